package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocs_CLI keeps docs/cli.md and the README true: every command is documented.
func TestDocs_CLI(t *testing.T) {
	t.Parallel()
	cli, err := os.ReadFile("../../docs/cli.md")
	require.NoError(t, err)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, c := range newRootCmd().Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		require.Contains(t, string(cli), "## concord "+c.Name(), "docs/cli.md lacks %s", c.Name())
		require.Contains(t, string(readme), "concord "+c.Name(), "README lacks %s", c.Name())
		require.NotEmpty(t, c.Short, "%s has no help", c.Name())
	}
	require.True(t, strings.HasPrefix(strings.SplitN(string(readme), "```sh\n", 2)[1], "go run ./cmd/concord demo"), "README opens with the demo command")
}
