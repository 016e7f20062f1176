//go:build !unix

package bench

import (
	"errors"
	"os"
)

// flock: the Tryton scripts and their lock file exist on Unix only.
func flock(*os.File, bool) error {
	return errors.New("the tryton scenario shares the Tryton test lock with flock, which this system lacks")
}
