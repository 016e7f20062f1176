package main

import (
	"context"
	"fmt"
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
		Long: `links lists how records are paired across systems. A link pairs stable external
ids: once made, records follow their ids, never an e-mail or a name. A link is
made when Concord creates a record in a target; when it finds the one an earlier
crashed attempt created (by the source id it stored in the target's link field);
and, for records that existed in both systems before Concord, when matching pairs
them once (a shared VAT number, customer number, SKU or e-mail, or a similarity
score at or above the entity's auto_link threshold), or when a person accepts a
pair with concord match accept.`,
		Args: cobra.NoArgs,
		RunE: listing[store.Link]{
			fetch: func(ctx context.Context, st store.Store) ([]store.Link, error) {
				p.Entity = model.Entity(entity)
				return st.ListLinks(ctx, &p)
			},
			header: "ENTITY\tCONCORD ID\tSYSTEM\tEXTERNAL ID\tLINKED",
			row: func(l store.Link) string {
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", l.Entity, l.ConcordID, l.System, l.ExternalID, l.CreatedAt.Format(time.DateTime))
			},
			json: &asJSON,
		}.run(g),
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
		RunE: listing[store.QuarantineEntry]{
			fetch: func(ctx context.Context, st store.Store) ([]store.QuarantineEntry, error) {
				return st.ListQuarantine(ctx, &p)
			},
			header: "TIME\tFLOW\tRECORD\tFIELD\tREASON",
			row: func(q store.QuarantineEntry) string {
				return fmt.Sprintf("%s\t%s\t%s:%s:%s\t%s\t%s", q.CreatedAt.Format(time.DateTime), q.Flow, q.System, q.Entity, q.ExternalID, q.Field, q.Reason)
			},
			json: &asJSON,
		}.run(g),
	}
	cmd.Flags().StringVar(&p.Flow, "flow", "", "only this flow")
	cmd.Flags().IntVar(&p.Limit, "limit", 100, "most entries to list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
