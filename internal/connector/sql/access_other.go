//go:build !unix

package sqlconn

import "os"

// writable says whether path may be written, as far as its mode tells where
// there is no access(2) (Windows): a file marked read-only is not; a
// directory's mode says nothing there, so it counts as writable.
func writable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return fi.IsDir() || fi.Mode().Perm()&0o200 != 0
}
