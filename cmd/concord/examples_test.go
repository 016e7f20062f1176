package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/demo"
)

// TestExamples_Validate keeps the shipped configs valid: the examples, and the
// demo's template rendered as the demo writes it.
func TestExamples_Validate(t *testing.T) {
	t.Parallel()
	env := func(name string) (string, bool) {
		if strings.HasPrefix(name, "OTEL_") { // not secrets: the OpenTelemetry settings (tracing off)
			return "", false
		}
		return "secret-for-" + name, true
	}
	reg := all.Registry(all.Deps{})
	for _, path := range []string{"../../examples/quickstart/concord.yaml", "../../examples/hubspot-tryton/concord.yaml", "../../examples/hubspot-odoo/concord.yaml", "../../examples/salesforce-tryton/concord.yaml", "../../examples/pipedrive-tryton/concord.yaml", "../../examples/salesforce-odoo/concord.yaml", "../../examples/pipedrive-odoo/concord.yaml"} {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		_, err = config.Parse(path, data, reg, env)
		require.NoError(t, err, "%s", path)
	}
	dir := t.TempDir()
	for _, tryton := range []*demo.Tryton{nil, {URL: "http://127.0.0.1:8000", Database: "demo", User: "concord", Password: "pw"}} {
		path, err := demo.WriteConfig(dir, "http://127.0.0.1:1", tryton)
		require.NoError(t, err)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		_, err = config.Parse(path, data, reg, env)
		require.NoError(t, err, "demo config, tryton=%v", tryton != nil)
	}
	for _, tryton := range []*demo.Tryton{nil, {URL: "http://127.0.0.1:8000", Database: "demo", User: "concord", Password: "pw"}} {
		path, err := demo.WriteSalesforceConfig(dir, "http://127.0.0.1:1", tryton)
		require.NoError(t, err)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		_, err = config.Parse(path, data, reg, env)
		require.NoError(t, err, "demo config, salesforce, tryton=%v", tryton != nil)
	}
	path, err := demo.WriteOdooConfig(dir, "http://127.0.0.1:1", &demo.Odoo{URL: "http://127.0.0.1:8069", Database: "demo", User: "concord", Password: "pw"})
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = config.Parse(path, data, reg, env)
	require.NoError(t, err, "demo config, odoo")
}

// TestSchema_File keeps docs/concord.schema.json, which the examples point editors
// at, equal to what concord schema prints.
func TestSchema_File(t *testing.T) {
	t.Parallel()
	want, err := config.Schema()
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join("..", "..", "docs", "concord.schema.json"))
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(string(want)), strings.TrimSpace(string(got)), "run: go run ./cmd/concord schema > docs/concord.schema.json")
}
