package trytonrpc_test

import (
	"testing"

	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
)

func TestMain(m *testing.M) { trytontest.Main(m, 2) }
