package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/connector/all"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the config file and report every problem as FILE:LINE:COL: message",
		Long: `validate loads the config file, resolves its secret references and checks it all:
every synced field has exactly one owner system, no flow writes a field into the
system that owns it, connectors and fields exist, secrets are references (env:NAME,
file:PATH) that resolve (a file: secret must be a regular file of at most 64 KiB
that its group and others cannot write), two-way flows have a conflict rule. A file
over 1 MiB, nested deeper than 64 levels or with more than 1,000 keys in one mapping
(10,000 keys and items in all) is refused before it is parsed. Every problem is
reported at once. Exit code 0 when valid, 2 when not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, all.Registry(all.Deps{}))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (owner %s; %d systems, %d entities, %d flows; version %s)\n",
				cfg.Path, cfg.Owner, len(cfg.Systems), len(cfg.Entities), len(cfg.Flows), cfg.Version)
			return nil
		},
	}
}
