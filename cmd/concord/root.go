package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// globals are the flags every subcommand shares.
type globals struct {
	config    string
	logLevel  string
	logFormat string
	// defaultLevel is the command's log level when neither --log-level nor
	// CONCORD_LOG_LEVEL sets one: info for serve, warn (the empty default) for
	// the other commands.
	defaultLevel string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "concord",
		Short: "Concord keeps your CRM and ERP in agreement",
		Long: `Concord links the records a CRM and an ERP share (customers, products, deals and
orders, invoices, payments), moves each field in the one direction its owner allows,
and logs every change so that any of them can be re-run safely.

Try it:      concord demo                            (order-to-cash live, nothing to set up)
Your own:    concord init --crm ... --erp ...            (a commented config from your systems)
             concord validate --config concord.yaml
             concord doctor --config concord.yaml    (checks the config against the live systems)
             concord plan --config concord.yaml      (what would change, nothing written)
             concord sync --once --config concord.yaml, then concord serve
Docs:        docs/ (flows: docs/flows.md, configuration: docs/config.md, CLI: docs/cli.md,
             connectors: docs/connectors/, examples: examples/,
             deploying: docs/deploy.md)

Exit codes: 0 ok, 1 runtime failure, 2 invalid config or usage, 130 interrupted
(sync --once, demo: SIGTERM or Ctrl-C; see concord sync --help).
Values from systems are printed with control characters escaped (\x1b, \x00).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.config, "config", "c", envOr("CONCORD_CONFIG", "concord.yaml"), "config file (env CONCORD_CONFIG)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("CONCORD_LOG_LEVEL", ""), "log level: debug, info, warn, error (env CONCORD_LOG_LEVEL; default info for serve, warn for the other commands)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	root.AddCommand(
		newValidateCmd(g), newDoctorCmd(g), newSchemaCmd(), newConnectorsCmd(),
		newPlanCmd(g), newSyncCmd(g), newServeCmd(g), newStatusCmd(g),
		newEventsCmd(g), newReplayCmd(g), newDeadLetterCmd(g), newWaitsCmd(g), newLinksCmd(g), newQuarantineCmd(g), newMatchCmd(g),
		newBenchCmd(g), newQuickstartCmd(g), newSandboxCmd(g), newDemoCmd(g), newInitCmd(g),
		newAssessCmd(g),
		newReportCmd(g),
		newReconcileCmd(g),
		newVersionCmd(),
		newConsoleCmd(),
	)
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// logger builds the process logger from the flags; logs go to stderr.
func (g *globals) logger() (*slog.Logger, error) {
	level := cmp.Or(g.logLevel, g.defaultLevel, "warn")
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, usageErr(fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel))
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, usageErr(fmt.Errorf("--log-format %q: want text or json", g.logFormat))
}
