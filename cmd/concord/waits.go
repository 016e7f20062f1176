package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/store"
)

func newWaitsCmd(g *globals) *cobra.Command {
	var p store.ListWaitsParams
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "waits",
		Short: "List changes parked until a record they need is linked",
		Long: `A change that needs another record first (a won deal whose account is not in the
ERP yet, an invoice whose order is not linked to its deal yet) is not a failure:
it waits, parked, and is applied as soon as that record is linked, read again
from its source. waits lists them, oldest first, with what each waits for and
until when. Past sync.wait_limit (default 24h) a waiting change becomes a dead
letter and an error is logged.`,
		Args: cobra.NoArgs,
		RunE: listing[store.Wait]{
			fetch: func(ctx context.Context, st store.Store) ([]store.Wait, error) {
				return st.ListWaits(ctx, &p)
			},
			header: "SINCE\tFLOW\tRECORD\tWAITS FOR\tIN\tUNTIL\tREASON",
			row: func(w store.Wait) string {
				return fmt.Sprintf("%s\t%s\t%s:%s:%s\t%s:%s:%s\t%s\t%s\t%s", w.Since.Format(time.DateTime), w.Flow, w.System, w.Entity, w.ExternalID,
					w.AwaitSystem, w.AwaitEntity, w.AwaitID, w.AwaitIn, w.Deadline.Format(time.DateTime), w.Reason)
			},
			json: &asJSON,
		}.run(g),
	}
	cmd.Flags().StringVar(&p.Flow, "flow", "", "only this flow")
	cmd.Flags().IntVar(&p.Limit, "limit", 100, "most waits to list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
