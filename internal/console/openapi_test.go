package console_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/store"
)

// schemaDoc is the part of an OpenAPI document the check reads.
type schemaDoc struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]*schema `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	Responses map[string]struct {
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

type schema struct {
	Ref        string             `json:"$ref"`
	Type       string             `json:"type"`
	Properties map[string]*schema `json:"properties"`
	Required   []string           `json:"required"`
	Items      *schema            `json:"items"`
	AllOf      []*schema          `json:"allOf"`
	Enum       []any              `json:"enum"`
}

// check validates v against s: types, required properties, and no property
// the document does not describe (on objects that list their properties).
func (d *schemaDoc) check(t *testing.T, where string, s *schema, v any) {
	t.Helper()
	if s.Ref != "" {
		d.check(t, where, d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], v)
		return
	}
	if len(s.AllOf) > 0 {
		merged := &schema{Type: "object", Properties: map[string]*schema{}}
		for _, part := range s.AllOf {
			if part.Ref != "" {
				part = d.Components.Schemas[strings.TrimPrefix(part.Ref, "#/components/schemas/")]
			}
			for k, p := range part.Properties {
				merged.Properties[k] = p
			}
			merged.Required = append(merged.Required, part.Required...)
		}
		d.check(t, where, merged, v)
		return
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		require.True(t, ok, "%s: want an object, got %T", where, v)
		for _, r := range s.Required {
			require.Contains(t, m, r, "%s: required %q missing", where, r)
		}
		if s.Properties != nil {
			for k, val := range m {
				p, ok := s.Properties[k]
				require.True(t, ok, "%s: %q is not in the document", where, k)
				d.check(t, where+"."+k, p, val)
			}
		}
	case "array":
		a, ok := v.([]any)
		require.True(t, ok, "%s: want an array, got %T (%v)", where, v, v)
		for i, item := range a {
			if s.Items != nil {
				d.check(t, fmt.Sprintf("%s[%d]", where, i), s.Items, item)
			}
		}
	case "string":
		_, ok := v.(string)
		require.True(t, ok, "%s: want a string, got %T", where, v)
		if len(s.Enum) > 0 {
			require.Contains(t, s.Enum, v, "%s", where)
		}
	case "integer", "number":
		_, ok := v.(float64)
		require.True(t, ok, "%s: want a number, got %T", where, v)
	case "boolean":
		_, ok := v.(bool)
		require.True(t, ok, "%s: want a boolean, got %T", where, v)
	}
}

// TestOpenAPI_DescribesAnswers calls every GET endpoint of the document on
// a world with a dead letter, a quarantined record and events, and checks
// each answer against its documented schema.
func TestOpenAPI_DescribesAnswers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed()
	c := w.anon()
	var doc schemaDoc
	require.Equal(t, http.StatusOK, apiCallRaw(t, c, w.srv.URL+"/api/v1/openapi.json", "", &doc), "the document needs no sign-in")
	letters, err := w.st.ListDeadLetters(w.ctx, nil)
	require.NoError(t, err)
	require.NotEmpty(t, letters)
	evs, err := w.st.ListEvents(w.ctx, &store.ListEventsParams{Limit: 1})
	require.NoError(t, err)
	ids := map[string]int64{"/api/v1/events/{id}": evs[0].ID, "/api/v1/dead-letters/{id}": letters[0].ID}
	checked := 0
	for path, ops := range doc.Paths {
		op, ok := ops["get"]
		if !ok || path == "/api/v1/openapi.json" {
			continue
		}
		u := path
		if strings.Contains(path, "{id}") {
			id, ok := ids[path]
			require.True(t, ok, "no id to call %s with", path)
			u = strings.Replace(path, "{id}", fmt.Sprint(id), 1)
		}
		if path == "/api/v1/links" {
			u += "?record=c1"
		}
		var got any
		require.Equal(t, http.StatusOK, apiCallRaw(t, c, w.srv.URL+u, operatorToken, &got), path)
		s := op.Responses["200"].Content["application/json"].Schema
		require.NotNil(t, s, "%s has no 200 schema", path)
		doc.check(t, path, s, got)
		checked++
	}
	require.GreaterOrEqual(t, checked, 10)
}

func apiCallRaw(t *testing.T, c *http.Client, u, token string, out any) int {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	return resp.StatusCode
}
