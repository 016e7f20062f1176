package hubspot_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

func TestServer_Objects(t *testing.T) {
	t.Parallel()

	t.Run("CreateGetUpdateArchive", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/companies", map[string]any{
			"properties": map[string]any{"name": "Alfreds Futterkiste", "city": "Berlin", "phone": nil},
		})
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
		id := body["id"].(string)
		require.Equal(t, false, body["archived"])
		require.NotEmpty(t, body["createdAt"])
		p := props(body)
		require.Equal(t, id, p["hs_object_id"])
		require.Equal(t, "Berlin", p["city"])
		require.NotEmpty(t, p["createdate"])
		require.NotEmpty(t, p["hs_lastmodifieddate"])

		resp, body = b.do(t, http.MethodGet, "/crm/v3/objects/companies/"+id+"?properties=city,country", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		p = props(body)
		require.Equal(t, "Berlin", p["city"])
		require.Contains(t, p, "country")
		require.Nil(t, p["country"], "unset requested property is null")
		require.NotContains(t, p, "name", "only requested properties plus the always-present ones")

		b.clock.Advance(1500 * time.Millisecond)
		resp, body = b.do(t, http.MethodPatch, "/crm/v3/objects/companies/"+id, map[string]any{
			"properties": map[string]any{"city": "München", "zip": 80331},
		})
		require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
		require.Equal(t, "München", props(body)["city"])
		require.Equal(t, "80331", props(body)["zip"], "numbers become strings")
		got, ok := b.srv.Get("company", id)
		require.True(t, ok)
		require.Equal(t, "München", got.Value("city"))

		resp, _ = b.do(t, http.MethodDelete, "/crm/v3/objects/companies/"+id, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		resp, body = b.do(t, http.MethodGet, "/crm/v3/objects/companies/"+id, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		requireHubSpotError(t, body, "OBJECT_NOT_FOUND")
		resp, body = b.do(t, http.MethodGet, "/crm/v3/objects/companies/"+id+"?archived=true", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, true, body["archived"])
		resp, body = b.do(t, http.MethodGet, "/crm/v3/objects/companies?archived=true", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Len(t, results(body), 1)
		require.Empty(t, b.srv.Objects("companies"))
	})

	t.Run("ListPaging", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for i := range 25 {
			_, err := b.srv.Put("contacts", map[string]string{"email": fmt.Sprintf("c%02d@example.com", i)})
			require.NoError(t, err)
		}
		seen := map[string]bool{}
		path := "/crm/v3/objects/contacts?limit=10&properties=email"
		pages := 0
		for {
			resp, body := b.do(t, http.MethodGet, path, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			pages++
			for _, r := range results(body) {
				id := r.(map[string]any)["id"].(string)
				require.False(t, seen[id], "id %s returned twice", id)
				seen[id] = true
				require.True(t, strings.HasSuffix(props(r)["email"].(string), "@example.com"))
			}
			paging, ok := body["paging"].(map[string]any)
			if !ok {
				break
			}
			after := paging["next"].(map[string]any)["after"].(string)
			path = "/crm/v3/objects/contacts?limit=10&properties=email&after=" + after
		}
		require.Equal(t, 3, pages)
		require.Len(t, seen, 25)

		resp, body := b.do(t, http.MethodGet, "/crm/v3/objects/contacts?limit=101", nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		requireHubSpotError(t, body, "VALIDATION_ERROR")
	})

	t.Run("ErrUnknownProperty", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/companies", map[string]any{
			"properties": map[string]any{"name": "X", "erp_customer_number": "C1"},
		})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		requireHubSpotError(t, body, "VALIDATION_ERROR")
		require.Contains(t, body["message"], "PROPERTY_DOESNT_EXIST")
		require.Contains(t, body["message"], "erp_customer_number")
		require.Empty(t, b.srv.Objects("companies"), "a refused create stores nothing")
	})

	t.Run("ErrInvalidValues", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/deals", map[string]any{
			"properties": map[string]any{"dealname": "D", "amount": "12,5", "dealstage": "won"},
		})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		requireHubSpotError(t, body, "VALIDATION_ERROR")
		require.Contains(t, body["message"], "INVALID_DECIMAL")
		require.Contains(t, body["message"], "INVALID_OPTION")
		id := b.create(t, "deals", map[string]any{"dealname": "D"})
		resp, body = b.do(t, http.MethodPatch, "/crm/v3/objects/deals/"+id, map[string]any{"properties": map[string]any{"hs_object_id": "5"}})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%v", body)
		require.Contains(t, body["message"], "READ_ONLY_VALUE")
	})

	t.Run("IDProperty", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.srv.DefineProperty("companies", hubspot.Property{
			Name: "erp_id", Label: "ERP id", Type: "string", FieldType: "text", GroupName: "companyinformation", HasUniqueValue: true,
		})
		require.NoError(t, err)
		id := b.create(t, "companies", map[string]any{"name": "A", "erp_id": "C-1"})
		resp, body := b.do(t, http.MethodGet, "/crm/v3/objects/companies/C-1?idProperty=erp_id", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, id, body["id"])
		resp, body = b.do(t, http.MethodPatch, "/crm/v3/objects/companies/C-1?idProperty=erp_id", map[string]any{"properties": map[string]any{"name": "B"}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "B", props(body)["name"])
		resp, body = b.do(t, http.MethodGet, "/crm/v3/objects/companies/A?idProperty=name", nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "name is not unique")
		requireHubSpotError(t, body, "VALIDATION_ERROR")
		resp, _ = b.do(t, http.MethodGet, "/crm/v3/objects/companies/C-2?idProperty=erp_id", nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Run("LineItemFromProduct", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		pid := b.create(t, "products", map[string]any{"name": "Chai", "price": "18.00", "hs_sku": "NW-001"})
		_, body := b.do(t, http.MethodPost, "/crm/v3/objects/line_items", map[string]any{
			"properties": map[string]any{"hs_product_id": pid, "quantity": "3", "hs_discount_percentage": "5"},
		})
		p := props(body)
		require.Equal(t, "Chai", p["name"])
		require.Equal(t, "NW-001", p["hs_sku"])
		require.Equal(t, "51.3", p["amount"], "18 x 3 less 5 %%, exact")
	})

	t.Run("InProcessErrors", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		_, err := b.srv.Put("contacts", map[string]string{"nope": "x"})
		var he *hubspot.Error
		require.True(t, errors.As(err, &he))
		require.Equal(t, hubspot.CategoryValidation, he.Category)
		_, err = b.srv.Put("tickets", nil)
		require.Error(t, err)
		require.Nil(t, b.srv.Objects("tickets"))
	})
}

func TestServer_Properties(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	def := map[string]any{"name": "erp_customer_id", "label": "ERP customer", "type": "string", "fieldType": "text", "groupName": "companyinformation", "hasUniqueValue": true}
	resp, body := b.do(t, http.MethodPost, "/crm/v3/properties/companies", def)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", body)
	require.Equal(t, true, body["hasUniqueValue"])

	resp, body = b.do(t, http.MethodPost, "/crm/v3/properties/companies", def)
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	requireHubSpotError(t, body, "CONFLICT")

	resp, body = b.do(t, http.MethodPost, "/crm/v3/properties/companies", map[string]any{"name": "Bad Name", "label": "x", "type": "string", "fieldType": "radioactive", "groupName": "g"})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	requireHubSpotError(t, body, "VALIDATION_ERROR")

	resp, body = b.do(t, http.MethodGet, "/crm/v3/properties/companies/erp_customer_id", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ERP customer", body["label"])

	resp, body = b.do(t, http.MethodGet, "/crm/v3/properties/companies", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	names := map[string]bool{}
	for _, p := range results(body) {
		names[p.(map[string]any)["name"].(string)] = true
	}
	require.True(t, names["erp_customer_id"])
	require.True(t, names["hs_object_id"])

	t.Run("UniqueValueEnforced", func(t *testing.T) {
		first := b.create(t, "companies", map[string]any{"name": "A", "erp_customer_id": "ALFKI"})
		resp, body := b.do(t, http.MethodPost, "/crm/v3/objects/companies", map[string]any{"properties": map[string]any{"name": "B", "erp_customer_id": "ALFKI"}})
		require.Equal(t, http.StatusConflict, resp.StatusCode)
		requireHubSpotError(t, body, "CONFLICT")
		require.Contains(t, body["message"], first)
		second := b.create(t, "companies", map[string]any{"name": "B", "erp_customer_id": "ANATR"})
		resp, _ = b.do(t, http.MethodPatch, "/crm/v3/objects/companies/"+second, map[string]any{"properties": map[string]any{"erp_customer_id": "ALFKI"}})
		require.Equal(t, http.StatusConflict, resp.StatusCode)
		// Archiving releases the value.
		resp, _ = b.do(t, http.MethodDelete, "/crm/v3/objects/companies/"+first, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		resp, _ = b.do(t, http.MethodPatch, "/crm/v3/objects/companies/"+second, map[string]any{"properties": map[string]any{"erp_customer_id": "ALFKI"}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestServer_Pipelines(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp, body := b.do(t, http.MethodGet, "/crm/v3/pipelines/deals", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	pipes := results(body)
	require.Len(t, pipes, 1)
	pipe := pipes[0].(map[string]any)
	require.Equal(t, "default", pipe["id"])
	var ids []string
	for _, s := range pipe["stages"].([]any) {
		st := s.(map[string]any)
		ids = append(ids, st["id"].(string))
		if st["id"] == "closedwon" {
			require.Equal(t, "true", st["metadata"].(map[string]any)["isClosed"])
		}
	}
	require.Equal(t, []string{"appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"}, ids)
	resp, body = b.do(t, http.MethodGet, "/crm/v3/pipelines/deals/default/stages", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, results(body), 7)
	resp, _ = b.do(t, http.MethodGet, "/crm/v3/pipelines/deals/other", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	id := b.create(t, "deals", map[string]any{"dealname": "D", "dealstage": "closedwon"})
	got, _ := b.srv.Get("deals", id)
	require.Equal(t, "default", got.Value("pipeline"))
}
