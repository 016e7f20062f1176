package config_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
)

// compileSchema compiles config.Schema with a real draft 2020-12 validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := config.Schema()
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	require.NoError(t, c.AddResource(config.SchemaID, doc))
	sch, err := c.Compile(config.SchemaID)
	require.NoError(t, err)
	return sch
}

// yamlInstance turns YAML into the JSON value a schema validates.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal(data, &v))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return inst
}

func TestSchema(t *testing.T) {
	t.Parallel()

	t.Run("Shape", func(t *testing.T) {
		t.Parallel()
		b, err := config.Schema()
		require.NoError(t, err)
		var s struct {
			Schema     string `json:"$schema"`
			Properties map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
			Required []string `json:"required"`
			Defs     any      `json:"$defs"`
		}
		require.NoError(t, json.Unmarshal(b, &s))
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", s.Schema)
		require.ElementsMatch(t, []string{"version", "owner", "store", "sync", "systems", "entities", "flows", "retention", "alerts", "tracing", "report", "reconcile", "console"}, keys(s.Properties))
		for name, p := range s.Properties {
			require.NotEmpty(t, p.Description, name)
		}
		require.ElementsMatch(t, []string{"version", "owner", "systems"}, s.Required)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(b, &raw))
		for _, tc := range []struct {
			path []string
			want []any
		}{
			{[]string{"properties", "store", "properties", "driver", "enum"}, []any{"sqlite", "postgres"}},
			{[]string{"properties", "flows", "items", "properties", "trigger", "enum"}, []any{"change", "deal_won", "schedule"}},
			{[]string{"properties", "flows", "items", "properties", "mode", "enum"}, []any{"one-way", "two-way"}},
			{[]string{"properties", "flows", "items", "properties", "conflict", "enum"}, []any{"owner_wins", "owner_unless_blank", "newest_wins"}},
			{[]string{"properties", "entities", "additionalProperties", "properties", "fields", "additionalProperties", "properties", "clean", "items", "enum"},
				[]any{"trim", "lower", "upper", "email", "phone", "country", "vat"}},
			{[]string{"properties", "entities", "additionalProperties", "properties", "fields", "additionalProperties", "properties", "type", "enum"},
				[]any{"text", "enum", "decimal", "money", "date", "datetime", "bool", "ref", "lines"}},
			{[]string{"properties", "entities", "propertyNames", "enum"},
				[]any{"account", "contact", "product", "deal", "order", "order_line", "invoice", "payment"}},
		} {
			var cur any = raw
			for _, k := range tc.path {
				m, ok := cur.(map[string]any)
				require.True(t, ok, "%v at %s", tc.path, k)
				cur = m[k]
			}
			require.Equal(t, tc.want, cur, "%v", tc.path)
		}
		require.NotContains(t, string(b), `\u003c`, "no HTML escaping in descriptions")
	})

	t.Run("ValidFull", func(t *testing.T) {
		t.Parallel()
		sch := compileSchema(t)
		inst := yamlInstance(t, mustRead(t, filepath.Join("testdata", "TestLoad", "full.yaml")))
		require.NoError(t, sch.Validate(inst))
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		sch := compileSchema(t)
		base := "version: 1\nowner: a@example.com\nsystems: [{name: crm, connector: sql}]\n"
		require.NoError(t, sch.Validate(yamlInstance(t, []byte(base))), "the base document is valid")
		for name, extra := range map[string]string{
			"UnknownKey":    "ownr: x\n",
			"BadDriver":     "store: {driver: mysql}\n",
			"BadDuration":   "sync: {poll_interval: soon}\n",
			"ZeroWorkers":   "sync: {workers: 0}\n",
			"UnknownEntity": "entities: {customer: {fields: {name: {owner: crm}}}}\n",
			"FieldNoOwner":  "entities: {account: {fields: {name: {clean: [trim]}}}}\n",
			"BadCleanRule":  "entities: {account: {fields: {name: {owner: crm, clean: [trimm]}}}}\n",
			"BadFieldType":  "entities: {account: {fields: {x: {owner: crm, type: string}}}}\n",
			"BadTrigger":    "flows: [{source: crm, target: erp, entity: account, fields: [name], trigger: hourly}]\n",
			"TwoWayNoRule":  "flows: [{source: crm, target: erp, entity: account, fields: [name], mode: two-way}]\n",
			"EmptyFields":   "flows: [{source: crm, target: erp, entity: account, fields: []}]\n",
			"BadSystemName": "flows: []\nsystems: [{name: Bad Name, connector: sql}]\n",
			"VersionTwo":    "flows: []\nversion: 2\n",
			"BadConflict":   "flows: [{source: crm, target: erp, entity: account, fields: [name], mode: two-way, conflict: maybe}]\n",
		} {
			doc := base + extra
			if name == "BadSystemName" || name == "VersionTwo" {
				// Replace, not add, the key: YAML forbids duplicate keys.
				doc = "owner: a@example.com\n" + extra
				if name == "BadSystemName" {
					doc = "version: 1\n" + doc
				} else {
					doc += "systems: [{name: crm, connector: sql}]\n"
				}
			}
			require.Error(t, sch.Validate(yamlInstance(t, []byte(doc))), name)
		}
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
