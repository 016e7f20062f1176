package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

// parsesAsConcord fails unless args name a concord subcommand and flags it has.
func parsesAsConcord(t *testing.T, where string, args []string) {
	t.Helper()
	cmd, rest, err := newRootCmd().Find(args)
	require.NoError(t, err, "%s: %q", where, args)
	require.NotEqual(t, "concord", cmd.Name(), "%s: %q names no subcommand", where, args)
	require.NoError(t, cmd.ParseFlags(rest), "%s: %q", where, args)
	require.NoError(t, cmd.ValidateArgs(cmd.Flags().Args()), "%s: %q", where, args)
}

// TestDeploy_Commands: what the Dockerfile, the compose file and the systemd
// unit run are concord's commands and flags, and the compose config is valid.
func TestDeploy_Commands(t *testing.T) {
	df, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindSubmatch(df)
	require.NotNil(t, m, "Dockerfile has a CMD")
	var cmdArgs []string
	require.NoError(t, yaml.Unmarshal(m[1], &cmdArgs))
	parsesAsConcord(t, "Dockerfile CMD", cmdArgs)

	unit, err := os.ReadFile("../../deploy/concord.service")
	require.NoError(t, err)
	m = regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/concord (.*)$`).FindSubmatch(unit)
	require.NotNil(t, m, "the unit starts /usr/local/bin/concord")
	parsesAsConcord(t, "concord.service ExecStart", strings.Fields(string(m[1])))

	raw, err := os.ReadFile("../../deploy/compose.yaml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose))
	defaults := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`) // compose's ${NAME:-default}
	nodes := 0
	for name, s := range compose.Services {
		if s.Image != "concord:compose" {
			continue
		}
		args := make([]string, len(s.Command))
		for i, a := range s.Command {
			args[i] = defaults.ReplaceAllString(a, "$1")
		}
		parsesAsConcord(t, "compose service "+name, args)
		if args[0] == "serve" {
			nodes++
			require.Equal(t, "/etc/concord/concord.yaml", s.Environment["CONCORD_CONFIG"], name)
			for k, v := range s.Environment {
				t.Setenv(k, defaults.ReplaceAllString(v, "$1"))
			}
		}
	}
	require.Equal(t, 3, nodes, "three serve nodes")
	out, code := run(t, "validate", "--config", "../../deploy/compose/concord.yaml")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "2 systems, 2 entities, 2 flows")
}
