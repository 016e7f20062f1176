//go:build unix

package sqlconn

import "syscall"

// writable says whether this process's user may write path (access(2), W_OK).
func writable(path string) bool { return syscall.Access(path, 2) == nil }
