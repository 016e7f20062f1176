package hubspot_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServer_Batch(t *testing.T) {
	t.Parallel()

	t.Run("ErrTooManyInputs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		inputs := make([]any, 101)
		for i := range inputs {
			inputs[i] = map[string]any{"properties": map[string]any{"name": fmt.Sprint(i)}}
		}
		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/companies/batch/create", map[string]any{"inputs": inputs})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		requireHubSpotError(t, body, "VALIDATION_ERROR")
		require.Contains(t, body["message"], "100")
		require.Empty(t, b.srv.Objects("companies"))
		resp, _ = b.do(t, http.MethodPost, "/crm/v3/objects/companies/batch/create", map[string]any{"inputs": inputs[:100]})
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.Len(t, b.srv.Objects("companies"), 100)
	})

	t.Run("PartialFailure207", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/contacts/batch/create", map[string]any{"inputs": []any{
			map[string]any{"properties": map[string]any{"email": "a@example.com"}},
			map[string]any{"properties": map[string]any{"email": "b@example.com", "shoe_size": "44"}, "objectWriteTraceId": "trace-2"},
			map[string]any{"properties": map[string]any{"email": "c@example.com"}},
		}})
		require.Equal(t, http.StatusMultiStatus, resp.StatusCode)
		require.Len(t, results(body), 2)
		errs := body["errors"].([]any)
		require.Len(t, errs, 1)
		e := errs[0].(map[string]any)
		require.Equal(t, "error", e["status"])
		require.Equal(t, "VALIDATION_ERROR", e["category"])
		require.Contains(t, e["message"], "shoe_size")
		ctx := e["context"].(map[string]any)
		require.Equal(t, []any{"trace-2"}, ctx["objectWriteTraceId"])
		require.Equal(t, []any{"1"}, ctx["inputIndex"])
		require.EqualValues(t, 1, body["numErrors"])
		require.Len(t, b.srv.Objects("contacts"), 2)
	})

	t.Run("UpsertByUniqueProperty", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		resp, body := b.do(t, http.MethodPost, "/crm/v3/properties/companies", map[string]any{
			"name": "erp_customer_id", "label": "ERP id", "type": "string", "fieldType": "text", "groupName": "companyinformation", "hasUniqueValue": true,
		})
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
		upsert := func(name string) map[string]any {
			resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/companies/batch/upsert", map[string]any{"inputs": []any{
				map[string]any{"id": "ALFKI", "idProperty": "erp_customer_id", "properties": map[string]any{"name": name}},
			}})
			require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
			return results(body)[0].(map[string]any)
		}
		first := upsert("Alfreds")
		require.Equal(t, true, first["new"])
		second := upsert("Alfreds Futterkiste")
		require.Equal(t, false, second["new"])
		require.Equal(t, first["id"], second["id"])
		all := b.srv.Objects("companies")
		require.Len(t, all, 1)
		require.Equal(t, "Alfreds Futterkiste", all[0].Value("name"))
		require.Equal(t, "ALFKI", all[0].Value("erp_customer_id"))
		reqs := b.srv.Requests()
		require.Equal(t, 2, reqs["POST /crm/v3/objects/companies/batch/upsert"], "%v", reqs)
		require.Equal(t, 1, reqs["POST /crm/v3/properties/companies"], "%v", reqs)
		require.Zero(t, reqs["POST /crm/v3/objects/companies/batch/read"], "%v", reqs)
	})

	t.Run("ErrUpsertByNonUniqueProperty", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		resp, body := b.do(t, http.MethodPost, "/crm/v3/properties/companies", map[string]any{
			"name": "erp_customer_id", "label": "ERP id", "type": "string", "fieldType": "text", "groupName": "companyinformation", "hasUniqueValue": true,
		})
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
		// One input by a non-unique property refuses the whole request with 400
		// (HubSpot), not a 207 in which the valid input lands.
		for _, op := range []string{"upsert", "update"} {
			for _, prop := range []string{"name", "hs_object_id"} {
				resp, body = b.do(t, http.MethodPost, "/crm/v3/objects/companies/batch/"+op, map[string]any{"inputs": []any{
					map[string]any{"id": "ALFKI", "idProperty": "erp_customer_id", "properties": map[string]any{"name": "Alfreds"}},
					map[string]any{"id": "x", "idProperty": prop, "properties": map[string]any{"name": "X"}},
				}})
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s by %s: %v", op, prop, body)
				requireHubSpotError(t, body, "VALIDATION_ERROR")
				require.Equal(t, "Unable to perform update/upsert by non-unique 0-2 property "+prop+" in portal ID 62515", body["message"])
			}
		}
		require.Empty(t, b.srv.Objects("companies"), "nothing of a refused batch is written")
	})

	t.Run("ErrDuplicateIDs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		resp, body := b.do(t, http.MethodPost, "/crm/v3/properties/companies", map[string]any{
			"name": "erp_customer_id", "label": "ERP id", "type": "string", "fieldType": "text", "groupName": "companyinformation", "hasUniqueValue": true,
		})
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
		resp, body = b.do(t, http.MethodPost, "/crm/v3/objects/companies/batch/upsert", map[string]any{"inputs": []any{
			map[string]any{"id": "ALFKI", "idProperty": "erp_customer_id", "properties": map[string]any{"name": "Alfreds"}},
			map[string]any{"id": "ANATR", "idProperty": "erp_customer_id", "properties": map[string]any{"name": "Ana"}},
			map[string]any{"id": "ALFKI", "idProperty": "erp_customer_id", "properties": map[string]any{"name": "Alfreds F."}},
		}})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%v", body)
		requireHubSpotError(t, body, "VALIDATION_ERROR")
		require.Equal(t, "Duplicate IDs found in batch input: [ALFKI]. IDs must be unique", body["message"])
		require.Equal(t, []any{"ALFKI"}, body["context"].(map[string]any)["ids"])
		require.Empty(t, b.srv.Objects("companies"), "nothing of a refused batch is written")

		a := b.create(t, "companies", map[string]any{"name": "A"})
		c := b.create(t, "companies", map[string]any{"name": "C"})
		resp, body = b.do(t, http.MethodPost, "/crm/v3/objects/companies/batch/update", map[string]any{"inputs": []any{
			map[string]any{"id": a, "properties": map[string]any{"name": "A1"}},
			map[string]any{"id": c, "properties": map[string]any{"name": "C1"}},
			map[string]any{"id": a, "properties": map[string]any{"name": "A2"}},
			map[string]any{"id": c, "properties": map[string]any{"name": "C2"}},
		}})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%v", body)
		require.Equal(t, "Duplicate IDs found in batch input: ["+a+", "+c+"]. IDs must be unique", body["message"])
		got, _ := b.srv.Get("companies", a)
		require.Equal(t, "A", got.Value("name"), "not updated")
	})

	t.Run("ReadUpdateArchive", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		a := b.create(t, "products", map[string]any{"name": "Chai", "price": "18"})
		c := b.create(t, "products", map[string]any{"name": "Chang", "price": "19"})
		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/products/batch/read", map[string]any{
			"properties": []string{"price"}, "inputs": []any{map[string]any{"id": a}, map[string]any{"id": c}, map[string]any{"id": "999999"}},
		})
		require.Equal(t, http.StatusMultiStatus, resp.StatusCode)
		require.Len(t, results(body), 2)
		e := body["errors"].([]any)[0].(map[string]any)
		require.Equal(t, "OBJECT_NOT_FOUND", e["category"])
		require.Equal(t, []any{"999999"}, e["context"].(map[string]any)["ids"])

		resp, body = b.do(t, http.MethodPost, "/crm/v3/objects/products/batch/update", map[string]any{"inputs": []any{
			map[string]any{"id": a, "properties": map[string]any{"price": "20"}},
			map[string]any{"id": c, "properties": map[string]any{"price": "abc"}},
		}})
		require.Equal(t, http.StatusMultiStatus, resp.StatusCode)
		require.Len(t, results(body), 1)
		require.Equal(t, []any{c}, body["errors"].([]any)[0].(map[string]any)["context"].(map[string]any)["ids"])
		got, _ := b.srv.Get("products", a)
		require.Equal(t, "20", got.Value("price"))

		resp, _ = b.do(t, http.MethodPost, "/crm/v3/objects/products/batch/archive", map[string]any{"inputs": []any{map[string]any{"id": a}}})
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Len(t, b.srv.Objects("products"), 1)
	})
}
