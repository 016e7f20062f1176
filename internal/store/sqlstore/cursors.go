package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/concord-sync/concord/internal/store"
)

// GetCursor returns the cursor of a flow's source, or "" when none was saved.
func (o *ops) GetCursor(ctx context.Context, p *store.CursorKey) (string, error) {
	var cursor string
	err := o.q.QueryRowContext(ctx,
		o.rebind("SELECT cursor_value FROM concord_cursor WHERE flow = ? AND system = ? AND entity = ?"),
		p.Flow, p.System, string(p.Entity)).Scan(&cursor)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get cursor: %w", err)
	}
	return cursor, nil
}

// SetCursor saves a cursor, replacing the previous one.
func (o *ops) SetCursor(ctx context.Context, p *store.SetCursorParams) error {
	_, err := o.q.ExecContext(ctx, o.rebind(`INSERT INTO concord_cursor (flow, system, entity, cursor_value, updated_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (flow, system, entity) DO UPDATE SET cursor_value = excluded.cursor_value, updated_at = excluded.updated_at`),
		p.Flow, p.System, string(p.Entity), p.Cursor, o.timeArg(now()))
	if err != nil {
		return fmt.Errorf("set cursor: %w", err)
	}
	return nil
}
