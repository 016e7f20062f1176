package hubspot_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServer_Associations(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	company := b.create(t, "companies", map[string]any{"name": "Alfreds"})
	contact := b.create(t, "contacts", map[string]any{"email": "maria@alfreds.example"})
	deal := b.create(t, "deals", map[string]any{"dealname": "Order 1", "dealstage": "closedwon"})

	t.Run("PutDefault", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPut, "/crm/v4/objects/deals/"+deal+"/associations/default/companies/"+company, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
		spec := results(body)[0].(map[string]any)["associationSpec"].(map[string]any)
		require.Equal(t, "HUBSPOT_DEFINED", spec["associationCategory"])
		require.EqualValues(t, 341, spec["associationTypeId"])

		resp, body = b.do(t, http.MethodGet, "/crm/v4/objects/companies/"+company+"/associations/deals", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		r := results(body)[0].(map[string]any)
		require.Equal(t, deal, jsonID(r["toObjectId"]), "associations are bidirectional")
		require.EqualValues(t, 342, r["associationTypes"].([]any)[0].(map[string]any)["typeId"])

		resp, body = b.do(t, http.MethodPut, "/crm/v4/objects/deals/"+deal+"/associations/default/companies/424242", nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		requireHubSpotError(t, body, "OBJECT_NOT_FOUND")
	})

	t.Run("BatchAssociateDefault", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPost, "/crm/v4/associations/deals/contacts/batch/associate/default", map[string]any{
			"inputs": []any{map[string]any{"from": map[string]any{"id": deal}, "to": map[string]any{"id": contact}}},
		})
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
		require.Equal(t, []string{contact}, b.srv.Associations("deals", deal, "contacts"))
	})

	t.Run("InlineOnCreateAndBatchRead", func(t *testing.T) {
		var items []string
		for _, q := range []string{"2", "3"} {
			resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/line_items", map[string]any{
				"properties":   map[string]any{"name": "Chai", "quantity": q, "price": "18"},
				"associations": []any{map[string]any{"to": map[string]any{"id": deal}, "types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}}}},
			})
			require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
			items = append(items, body["id"].(string))
		}
		require.Equal(t, items, b.srv.Associations("deals", deal, "line_items"))

		resp, body := b.do(t, http.MethodPost, "/crm/v4/associations/deals/line_items/batch/read", map[string]any{
			"inputs": []any{map[string]any{"id": deal}, map[string]any{"id": "77777"}},
		})
		require.Equal(t, http.StatusMultiStatus, resp.StatusCode)
		r := results(body)[0].(map[string]any)
		require.Equal(t, deal, r["from"].(map[string]any)["id"])
		require.Len(t, r["to"], 2)

		resp, body = b.do(t, http.MethodGet, "/crm/v3/objects/deals/"+deal+"?associations=line_items,companies", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assoc := body["associations"].(map[string]any)
		require.Len(t, assoc["line_items"].(map[string]any)["results"], 2)
		require.Len(t, assoc["companies"].(map[string]any)["results"], 1)

		resp, body = b.do(t, http.MethodPost, "/crm/v3/objects/line_items", map[string]any{
			"properties":   map[string]any{"name": "x"},
			"associations": []any{map[string]any{"to": map[string]any{"id": "999"}, "types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}}}},
		})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%v", body)
		require.Len(t, b.srv.Objects("line_items"), 2, "a refused create stores nothing")
	})

	t.Run("LabelledAndDelete", func(t *testing.T) {
		resp, body := b.do(t, http.MethodPut, "/crm/v4/objects/contacts/"+contact+"/associations/companies/"+company,
			[]any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}})
		require.Equal(t, http.StatusCreated, resp.StatusCode, "HubSpot answers 201; its official client throws on anything else: %v", body)
		require.Equal(t, []any{"Primary"}, body["labels"])
		resp, _ = b.do(t, http.MethodDelete, "/crm/v4/objects/contacts/"+contact+"/associations/companies/"+company, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Empty(t, b.srv.Associations("companies", company, "contacts"))
	})
}

// jsonID renders a decoded JSON number id as a string.
func jsonID(v any) string {
	return strconvFloat(v.(float64))
}

func strconvFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
