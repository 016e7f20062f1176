package connector_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
)

type testMapping struct {
	Column string `json:"column"`
	Type   string `json:"type"`
}

func (m *testMapping) UnmarshalJSON(b []byte) error {
	type plain testMapping
	var p plain
	err := connector.DecodeShorthand(b, func(s string) { p = plain{Column: s} }, &p)
	*m = testMapping(p)
	return err
}

type testEntity struct {
	Table     string                 `json:"table"`
	UpdatedAt string                 `json:"updated_at"`
	Link      string                 `json:"link"`
	Fields    map[string]testMapping `json:"fields"`
}

type testSettings struct {
	Driver   string                `json:"driver"`
	Batch    int                   `json:"batch"`
	Verify   *bool                 `json:"verify"`
	Hosts    []string              `json:"hosts"`
	Entities map[string]testEntity `json:"entities"`
}

func TestDecodeSettings(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		var s testSettings
		require.NoError(t, connector.DecodeSettings(map[string]any{
			"driver": "sqlite", "batch": int64(5), "verify": true, "hosts": []any{"a"},
			"entities": map[string]any{"account": map[string]any{"table": "t", "fields": map[string]any{
				"name": "company_name", "phone": map[string]any{"column": "tel", "type": "text"},
			}}},
		}, &s))
		require.Equal(t, 5, s.Batch)
		require.Equal(t, testMapping{Column: "tel", Type: "text"}, s.Entities["account"].Fields["phone"])
		require.Equal(t, "company_name", s.Entities["account"].Fields["name"].Column)
	})

	t.Run("ErrEveryProblem", func(t *testing.T) {
		t.Parallel()
		var s testSettings
		err := connector.DecodeSettings(map[string]any{
			"drivr": "sqlite", "batch": "many", "hosts": "a", "zzz": 1,
			"entities": map[string]any{"account": map[string]any{"tabel": "t", "updated": "u", "link": "l", "fields": map[string]any{
				"phone": map[string]any{"colum": "tel"},
			}}},
		}, &s)
		require.Error(t, err)
		type got struct{ Path, Msg, Meant string }
		var all []got
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() { //nolint:errorlint // a join
			var se *connector.SettingError
			require.True(t, errors.As(e, &se))
			all = append(all, got{se.Path, se.Msg, se.Meant})
		}
		require.Equal(t, []got{
			{"batch", "want an integer, got a string", ""},
			{"drivr", `unknown key "drivr"; did you mean "driver"?`, "driver"},
			{"entities.account.fields.phone.colum", `unknown key "colum"; did you mean "column"?`, "column"},
			{"entities.account.tabel", `unknown key "tabel"; did you mean "table"?`, "table"},
			{"entities.account.updated", `unknown key "updated"; did you mean "updated_at"?`, "updated_at"},
			{"hosts", "want a list, got a string", ""},
			{"zzz", `unknown key "zzz"; known keys: batch, driver, entities, hosts, verify`, ""},
		}, all)
		require.Equal(t, "l", s.Entities["account"].Link, "what is left is decoded")
	})
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	known := []string{"link", "table", "updated_at"}
	for got, want := range map[string]string{
		"tabel":   `; did you mean "table"?`,
		"lnk":     `; did you mean "link"?`,
		"updated": `; did you mean "updated_at"?`,
		"TABLE":   `; did you mean "table"?`,
		"colour":  "; known keys: link, table, updated_at",
	} {
		require.Equal(t, want, connector.Suggest(got, known), got)
	}
	require.Empty(t, connector.Suggest("x", nil))
}
