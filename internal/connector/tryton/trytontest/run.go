package trytontest

import "testing"

// Run is Main without the exit: it prepares n cloned databases, runs the
// package's tests, drops what is left and returns the exit code, so TestMain
// can clean up its own resources (a built binary, say) before os.Exit.
func Run(m *testing.M, n int) int { return runMain(m, n) }
