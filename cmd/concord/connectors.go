package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/connector/all"
)

func newConnectorsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "connectors [NAME]",
		Short: "List the connectors, or describe one and its settings",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := all.Registry(all.Deps{})
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			defer w.Flush()
			if len(args) == 0 {
				fmt.Fprintln(w, "CONNECTOR\tSUMMARY")
				for _, s := range reg.Specs() {
					fmt.Fprintf(w, "%s\t%s\n", s.Name, s.Summary)
				}
				return nil
			}
			s, ok := reg.Lookup(args[0])
			if !ok {
				return usageErr(fmt.Errorf("no connector %q; known: %v", args[0], reg.Names()))
			}
			fmt.Fprintf(w, "%s: %s\n\nSETTING\tTYPE\tREQUIRED\tSECRET\tDEFAULT\tDESCRIPTION\n", s.Name, s.Summary)
			for _, f := range s.Fields {
				fmt.Fprintf(w, "%s\t%s\t%v\t%v\t%s\t%s\n", f.Name, f.Type, f.Required, f.Secret, f.Default, f.Description)
			}
			return nil
		},
	}
}
