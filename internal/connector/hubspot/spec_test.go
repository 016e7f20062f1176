package hubspot_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	base := func() map[string]any {
		return map[string]any{"token": "x", "currency": "EUR", "entities": map[string]any{"account": map[string]any{}}}
	}
	paths := func(errs []error) []string {
		var out []string
		for _, err := range errs {
			var se *connector.SettingError
			require.True(t, errors.As(err, &se), "%v is not a SettingError", err)
			out = append(out, se.Path)
		}
		return out
	}
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		require.Empty(t, hubspot.Validate(base()))
	})
	for name, tc := range map[string]struct {
		set  map[string]any
		want []string
	}{
		"ErrMissing":      {map[string]any{"token": "", "currency": ""}, []string{"token", "currency"}},
		"ErrBadDurations": {map[string]any{"overlap": "soon", "rate_interval": "0s"}, []string{"rate_interval", "overlap"}},
		"ErrBadRate":      {map[string]any{"rate_limit": -1}, []string{"rate_limit"}},
		"ErrBadStage":     {map[string]any{"stages": map[string]any{"won": "closedwon", "done": "x"}}, []string{"stages.done"}},
		"ErrEntity": {map[string]any{"entities": map[string]any{
			"invoice": map[string]any{},
			"account": map[string]any{"link_property": "Bad Name", "fields": map[string]any{
				"name":    map[string]any{"property": "name", "association": "companies"},
				"shoe":    "shoe_size",
				"active":  map[string]any{"property": "x", "type": "text"},
				"lines":   "x",
				"country": map[string]any{"property": "country", "currency": "EUR"},
			}},
		}}, []string{"entities.account.link_property", "entities.account.fields.active.type", "entities.account.fields.country",
			"entities.account.fields.lines", "entities.account.fields.name", "entities.account.fields.shoe",
			"entities.invoice.object", "entities.invoice.fields"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := base()
			for k, v := range tc.set {
				s[k] = v
			}
			require.ElementsMatch(t, tc.want, paths(hubspot.Validate(s)))
		})
	}
	t.Run("RegisterOnce", func(t *testing.T) {
		t.Parallel()
		reg := connector.NewRegistry()
		hubspot.Register(reg)
		spec, ok := reg.Lookup(hubspot.Name)
		require.True(t, ok)
		for _, f := range spec.Fields {
			if f.Name == hubspot.SettingToken || f.Name == hubspot.SettingWebhookSecret {
				require.True(t, f.Secret, f.Name)
			}
		}
		require.Panics(t, func() { hubspot.Register(reg) })
	})
}
