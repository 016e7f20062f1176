package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/concord-sync/concord/internal/console"
)

func newConsoleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "console",
		Short: "The web console of concord serve: users and passwords (see docs/console.md)",
		Long: `concord serve shows a web console on its HTTP port (--addr, 127.0.0.1:8088 by
default) when the config lists console users: open http://127.0.0.1:8088/ and sign in.
Its pages show each flow's state, lag and charts, the events (search, detail, replay),
the dead letters (fix a value and retry, or dismiss with a note), the quarantine (fix
and release), the review queue (accept or reject a candidate match), the links between
records, the drift found by reconcile and the config's ownership matrix. The same is
a JSON API under /api/v1, described at /api/v1/openapi.json.

  console:
    users:
      - name: alice
        role: operator            # viewer (the default) reads; operator also changes
        password_hash: env:CONCORD_ALICE_HASH
      - name: reports-bot
        token: env:CONCORD_API_TOKEN   # Authorization: Bearer, for the API

Every change made in the console is recorded in the event log with the user's name.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "hash-password",
		Short: "Read a password and print its bcrypt hash for console.users[].password_hash",
		Long: `hash-password reads a password (asked twice, not echoed, on a terminal; the first
line of standard input otherwise) and prints its bcrypt hash (cost 12), to put in the
config or in the file or variable console.users[].password_hash points at. Passwords
are 8 to 72 bytes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return usageErr(err)
			}
			h, err := console.HashPassword(pw)
			if err != nil {
				return usageErr(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), h)
			return nil
		},
	})
	return cmd
}

// readPassword asks twice on a terminal without echo, else reads a line.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}
