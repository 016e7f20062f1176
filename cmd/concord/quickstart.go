package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/concord-sync/concord/examples/quickstart"
)

func newQuickstartCmd(g *globals) *cobra.Command {
	var dir string
	var reset bool
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Sync customers and products between two SQLite databases, no server needed",
		Long: `quickstart writes a CRM-shaped SQLite database (companies won as customers), an
ERP database loaded from the Northwind sample database (customers, products), and
the config that links them (examples/quickstart/concord.yaml) into --dir, then runs
one sync: customers CRM -> ERP, products ERP -> CRM. Run it again to see that a
second pass changes nothing; edit a row in crm.db or erp.db and run it again to see
the change move. --reset starts over.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := quickstart.Setup(ctx, dir, reset); err != nil {
				return err
			}
			g.config = filepath.Join(dir, "concord.yaml")
			a, err := openApp(ctx, g)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "quickstart: %s (CRM: crm.db, ERP: erp.db from Northwind, store: concord.db)\n\n", dir)
			show := term.IsTerminal(int(os.Stderr.Fd()))
			if err := a.syncOnce(ctx, a.eng.Legs(), show, cmd.ErrOrStderr()); err != nil {
				return err
			}
			printSummary(out, a.eng.Stats())
			c := g.config
			fmt.Fprintf(out, `
Where to look next:
  concord events     --config %[1]s            every change applied, newest first
  concord quarantine --config %[1]s            records held back, with the field and reason
  concord links      --config %[1]s            how records are paired across the two systems
  concord plan       --config %[1]s            what the next sync would change (nothing written)
  concord sync --once --config %[1]s           sync again (edit crm.db or erp.db first)
To use your own systems: copy %[1]s, point the systems at your databases,
and check it with concord validate. See docs/config.md and docs/connectors/.
`, c)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "quickstart", "directory for the databases and the config")
	cmd.Flags().BoolVar(&reset, "reset", false, "delete the databases and start over")
	return cmd
}
