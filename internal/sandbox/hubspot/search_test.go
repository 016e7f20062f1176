package hubspot_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

func searchIDs(t *testing.T, b *testBundle, typ string, req map[string]any) ([]string, map[string]any) {
	t.Helper()
	resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/"+typ+"/search", req)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
	var ids []string
	for _, r := range results(body) {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return ids, body
}

func filter(prop, op string, v any) map[string]any {
	f := map[string]any{"propertyName": prop, "operator": op}
	if v != nil {
		f["value"] = v
	}
	return f
}

func groups(fs ...map[string]any) []any {
	return []any{map[string]any{"filters": fs}}
}

func TestServer_Search(t *testing.T) {
	t.Parallel()

	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		var ids []string
		for i, price := range []string{"5", "18", "19.5", "40"} {
			o, err := b.srv.Put("products", map[string]string{"name": fmt.Sprintf("P%d Tea", i), "price": price})
			require.NoError(t, err)
			ids = append(ids, o.ID)
		}
		_, err := b.srv.Put("products", map[string]string{"name": "No price"})
		require.NoError(t, err)
		b.clock.Advance(time.Second)

		for name, tc := range map[string]struct {
			groups []any
			want   []string
		}{
			"EQ":                  {groups(filter("price", "EQ", "18")), ids[1:2]},
			"NEQ":                 {groups(filter("price", "NEQ", 18), filter("price", "HAS_PROPERTY", nil)), []string{ids[0], ids[2], ids[3]}},
			"GT numeric":          {groups(filter("price", "GT", "9")), ids[1:]},
			"GTE LTE":             {groups(filter("price", "GTE", "18"), filter("price", "LTE", "19.5")), ids[1:3]},
			"LT":                  {groups(filter("price", "LT", 18)), ids[:1]},
			"IN":                  {groups(map[string]any{"propertyName": "price", "operator": "IN", "values": []any{"5", "40"}}), []string{ids[0], ids[3]}},
			"NOT_HAS_PROPERTY":    {groups(filter("price", "NOT_HAS_PROPERTY", nil)), nil},
			"EQ case-insensitive": {groups(filter("name", "EQ", "p2 tea")), ids[2:3]},
			"OR of groups":        {[]any{map[string]any{"filters": []any{filter("price", "EQ", "5")}}, map[string]any{"filters": []any{filter("price", "EQ", "40")}}}, []string{ids[0], ids[3]}},
			"CONTAINS_TOKEN":      {groups(filter("name", "CONTAINS_TOKEN", "tea"), filter("price", "LT", "19")), ids[:2]},
		} {
			got, body := searchIDs(t, b, "products", map[string]any{"filterGroups": tc.groups, "limit": 100})
			if name == "NOT_HAS_PROPERTY" {
				require.Len(t, got, 1, name)
				continue
			}
			require.Equal(t, tc.want, got, name)
			require.EqualValues(t, len(tc.want), body["total"], name)
		}

		got, _ := searchIDs(t, b, "products", map[string]any{
			"filterGroups": groups(filter("price", "HAS_PROPERTY", nil)),
			"sorts":        []any{map[string]any{"propertyName": "price", "direction": "DESCENDING"}},
		})
		require.Equal(t, []string{ids[3], ids[2], ids[1], ids[0]}, got, "numeric sort, not lexical")

		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/products/search", map[string]any{"filterGroups": groups(filter("colour", "EQ", "red"))})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		requireHubSpotError(t, body, "VALIDATION_ERROR")
		resp, _ = b.do(t, http.MethodPost, "/crm/v3/objects/products/search", map[string]any{"limit": 201})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("DelayedIndexing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *hubspot.Config) { c.SearchDelay = 2 * time.Second })
		id := b.create(t, "companies", map[string]any{"name": "Old name"})
		byName := func(name string) []string {
			got, _ := searchIDs(t, b, "companies", map[string]any{"filterGroups": groups(filter("name", "EQ", name))})
			return got
		}
		require.Empty(t, byName("Old name"), "not indexed yet")
		b.clock.Advance(2 * time.Second)
		require.Equal(t, []string{id}, byName("Old name"))

		resp, _ := b.do(t, http.MethodPatch, "/crm/v3/objects/companies/"+id, map[string]any{"properties": map[string]any{"name": "New name"}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, []string{id}, byName("Old name"), "index still shows the old value")
		require.Empty(t, byName("New name"))
		b.clock.Advance(2 * time.Second)
		require.Empty(t, byName("Old name"))
		require.Equal(t, []string{id}, byName("New name"))

		resp, _ = b.do(t, http.MethodDelete, "/crm/v3/objects/companies/"+id, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Equal(t, []string{id}, byName("New name"))
		b.clock.Advance(2 * time.Second)
		require.Empty(t, byName("New name"), "archived records leave the index")
	})

	t.Run("PagingAndCeiling", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		const n = 10050
		for i := range n {
			_, err := b.srv.Put("line_items", map[string]string{"quantity": strconv.Itoa(i)})
			require.NoError(t, err)
		}
		b.clock.Advance(time.Second)
		ids, body := searchIDs(t, b, "line_items", map[string]any{"limit": 200})
		require.Len(t, ids, 200)
		require.EqualValues(t, n, body["total"])
		require.Equal(t, "200", body["paging"].(map[string]any)["next"].(map[string]any)["after"])

		ids, body = searchIDs(t, b, "line_items", map[string]any{"limit": 100, "after": "9950"})
		require.Len(t, ids, 50, "results stop at the 10,000th")
		require.Nil(t, body["paging"], "no page past the ceiling")

		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/line_items/search", map[string]any{"limit": 10, "after": "10000"})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		requireHubSpotError(t, body, "VALIDATION_ERROR")
		require.Contains(t, body["message"], "10000")

		ids, _ = searchIDs(t, b, "line_items", map[string]any{"filterGroups": groups(filter("quantity", "GTE", 10040))})
		require.Len(t, ids, 10, "a narrower filter reaches the tail")
	})
}
