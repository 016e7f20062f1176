package odoo

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
)

func TestSpec_Validate(t *testing.T) {
	t.Parallel()
	spec := Spec()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, spec.Validate(map[string]any{"url": "http://127.0.0.1:8069", "database": "db", "username": "u", "password": "p",
			"overlap": "1m", "batch_size": 50, "partner_link_field": "x_concord_id"}))
	})
	t.Run("ErrSettings", func(t *testing.T) {
		t.Parallel()
		errs := spec.Validate(map[string]any{"url": "ftp://x", "overlap": "soon", "batch_size": 5000, "product_link_field": "Bad-Name"})
		var paths []string
		for _, err := range errs {
			var se *connector.SettingError
			if ok := asSetting(err, &se); ok {
				paths = append(paths, se.Path)
			}
		}
		require.ElementsMatch(t, []string{"url", "database", "username", "password", "overlap", "batch_size", "product_link_field"}, paths)
	})
}

func asSetting(err error, target **connector.SettingError) bool {
	se, ok := err.(*connector.SettingError)
	if ok {
		*target = se
	}
	return ok
}
