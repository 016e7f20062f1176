// Command concord keeps a company's CRM and ERP in agreement. See concord --help
// and docs/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// exitError carries the process exit code of a failure.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as invalid config or usage (exit code 2).
func usageErr(err error) error { return &exitError{code: exitUsage, err: err} }

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, errorLine(err))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitRuntime
}

// errorLine is how a failure prints on stderr: its control characters (error
// text from systems may carry escape sequences) escaped, its lines kept.
func errorLine(err error) string { return "concord: " + safeMessage(err.Error()) }

func asExit(err error, target **exitError) bool { return errors.As(err, target) }
