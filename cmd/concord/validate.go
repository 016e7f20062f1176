package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/connector/all"
)

func newValidateCmd(g *globals) *cobra.Command {
	var connect, asJSON bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the config file and report every problem as FILE:LINE:COL: message",
		Long: `validate loads the config file, resolves its secret references and checks it all:
every synced field has exactly one owner system, no flow writes a field into the
system that owns it, connectors and fields exist, secrets are references (env:NAME,
file:PATH) that resolve (a file: secret must be a regular file of at most 64 KiB
that its group and others cannot write), two-way flows have a conflict rule. A file
over 1 MiB, nested deeper than 64 levels or with more than 1,000 keys in one mapping
(10,000 keys and items in all) is refused before it is parsed. Every problem is
reported at once. Exit code 0 when valid, 2 when not.

With --connect it then opens each system and runs the checks of concord doctor
(mapped tables, columns and properties exist, unique links, change detection,
rights), exiting 1 when one finds a problem; --json prints that report as JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if connect {
				return runDoctor(cmd.Context(), g, cmd.OutOrStdout(), asJSON)
			}
			if asJSON {
				return usageErr(errors.New("--json needs --connect"))
			}
			cfg, err := loadConfig(g, all.Registry(all.Deps{}))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (owner %s; %d systems, %d entities, %d flows; version %s)\n",
				cfg.Path, cfg.Owner, len(cfg.Systems), len(cfg.Entities), len(cfg.Flows), cfg.Version)
			return nil
		},
	}
	cmd.Flags().BoolVar(&connect, "connect", false, "also open each system and run the checks of concord doctor")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --connect, print the report as JSON")
	return cmd
}
