package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

func newLinksCmd(g *globals) *cobra.Command {
	var p store.ListLinksParams
	var entity string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "links",
		Short: "List the links between records: (entity, concord id) <-> (system, external id)",
		Long: `links lists how records are paired across systems. A link is made by stable
external ids only, never by e-mail or name: when Concord creates a record in a
target, or finds the one an earlier crashed attempt created (by the source id it
stored in the target's link field).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStoreOnly(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			p.Entity = model.Entity(entity)
			links, err := st.ListLinks(ctx, &p)
			if err != nil {
				return err
			}
			if asJSON {
				if links == nil {
					links = []store.Link{}
				}
				return writeJSON(cmd.OutOrStdout(), links)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ENTITY\tCONCORD ID\tSYSTEM\tEXTERNAL ID\tLINKED")
			for _, l := range links {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", l.Entity, l.ConcordID, l.System, l.ExternalID, l.CreatedAt.Format(time.DateTime))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&entity, "entity", "", "only this entity")
	cmd.Flags().StringVar(&p.System, "system", "", "only this system")
	cmd.Flags().StringVar(&p.ConcordID, "concord-id", "", "only this concord id")
	cmd.Flags().IntVar(&p.Limit, "limit", 100, "most links to list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newQuarantineCmd(g *globals) *cobra.Command {
	var p store.ListQuarantineParams
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List records held back because they failed cleaning or validation",
		Long: `A record whose value fails a clean rule (e-mail, phone, country, VAT) or a
required field is not copied: it is quarantined with the field and the reason,
and the rest of its batch goes on. Fix it in the source system; the next sync
picks up the change, and the record leaves the quarantine once it passes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStoreOnly(ctx, g)
			if err != nil {
				return err
			}
			defer st.Close()
			entries, err := st.ListQuarantine(ctx, &p)
			if err != nil {
				return err
			}
			if asJSON {
				if entries == nil {
					entries = []store.QuarantineEntry{}
				}
				return writeJSON(cmd.OutOrStdout(), entries)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TIME\tFLOW\tRECORD\tFIELD\tREASON")
			for _, q := range entries {
				fmt.Fprintf(w, "%s\t%s\t%s:%s:%s\t%s\t%s\n", q.CreatedAt.Format(time.DateTime), q.Flow, q.System, q.Entity, q.ExternalID, q.Field, q.Reason)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&p.Flow, "flow", "", "only this flow")
	cmd.Flags().IntVar(&p.Limit, "limit", 100, "most entries to list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
