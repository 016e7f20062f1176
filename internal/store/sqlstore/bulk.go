package sqlstore

import (
	"context"
	"fmt"
	"strings"
)

const (
	// sqliteMaxVars is SQLite's default SQLITE_MAX_VARIABLE_NUMBER.
	sqliteMaxVars = 32766
	// maxChunk caps the rows of one SQLite statement and the ids of one IN list:
	// larger statements parse no faster per row and hold the writer longer.
	maxChunk = 1000
)

// chunkSize is how many rows of cols parameters fit one SQLite statement,
// leaving room for extra fixed parameters.
func chunkSize(cols, extra int) int {
	n := (sqliteMaxVars - extra) / cols
	return min(n, maxChunk)
}

// chunks calls fn with consecutive [lo, hi) ranges of n items, size at a time.
func chunks(n, size int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += size {
		if err := fn(lo, min(lo+size, n)); err != nil {
			return err
		}
	}
	return nil
}

// valuesList writes rows groups of cols ? placeholders: (?,?),(?,?).
func valuesList(b *strings.Builder, rows, cols int) {
	group := "(" + strings.Repeat("?,", cols-1) + "?)"
	b.Grow(rows * (len(group) + 1))
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
	}
}

// inList writes n ? placeholders separated by commas.
func inList(b *strings.Builder, n int) {
	b.Grow(2 * n)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('?')
	}
}

// queryIDs runs a query returning one integer column.
func (o *ops) queryIDs(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan id: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// dedupe returns ids without repeats, in first-seen order.
func dedupe(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}

// forIn calls fn with a condition "column IN (...)" (SQLite, in chunks) or
// "column = ANY(?)" (PostgreSQL, once) and its arguments. The condition uses ?
// placeholders; fn rebinds the whole query.
func forIn[T any](o *ops, column string, ids []T, fn func(cond string, args []any) error) error {
	if len(ids) == 0 {
		return nil
	}
	if o.pg() {
		return fn(column+" = ANY(?)", []any{ids})
	}
	return chunks(len(ids), maxChunk, func(lo, hi int) error {
		var b strings.Builder
		b.WriteString(column + " IN (")
		inList(&b, hi-lo)
		b.WriteByte(')')
		args := make([]any, 0, hi-lo)
		for _, id := range ids[lo:hi] {
			args = append(args, id)
		}
		return fn(b.String(), args)
	})
}
