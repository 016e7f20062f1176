package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/store"
)

// listing describes a read-only listing command over the store: how to fetch the
// rows, and how to print them as a table or as JSON. Control characters in the
// values are escaped in both forms (safe.go).
type listing[T any] struct {
	fetch  func(ctx context.Context, st store.Store) ([]T, error)
	header string         // tab-separated column names
	row    func(T) string // tab-separated values
	asJSON func([]T) any  // the JSON form; nil prints the rows as they are
	json   *bool          // the --json flag
}

// run returns the RunE of a listing command.
func (l listing[T]) run(g *globals) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		st, err := openStoreOnly(ctx, g)
		if err != nil {
			return err
		}
		defer st.Close()
		rows, err := l.fetch(ctx, st)
		if err != nil {
			return err
		}
		if *l.json {
			if rows == nil {
				rows = []T{}
			}
			var v any = rows
			if l.asJSON != nil {
				v = l.asJSON(rows)
			}
			return writeJSON(cmd.OutOrStdout(), v)
		}
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, l.header)
		for _, r := range rows {
			// Values come from systems: their control characters are escaped.
			fmt.Fprintln(w, safeCell(l.row(r)))
		}
		return w.Flush()
	}
}
