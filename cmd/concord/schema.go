package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/config"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the config file, for editors",
		Long: `schema prints the JSON Schema (draft 2020-12) of concord.yaml. Save it and point
your editor at it, e.g. with the YAML language server:
  # yaml-language-server: $schema=./concord.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := config.Schema()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
}
