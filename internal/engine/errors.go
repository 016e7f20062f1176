package engine

import (
	"errors"

	"github.com/concord-sync/concord/internal/connector"
)

func asPermanent(err error, target **connector.PermanentError) bool { return errors.As(err, target) }

func asOwnership(err error, target **OwnershipError) bool { return errors.As(err, target) }
