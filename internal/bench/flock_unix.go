//go:build unix

package bench

import (
	"os"
	"syscall"
)

// flock takes the lock on f that the Tryton test suites share: exclusive
// while databases are cloned, shared while they are used.
func flock(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	return syscall.Flock(int(f.Fd()), how)
}
