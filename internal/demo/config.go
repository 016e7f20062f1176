package demo

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

//go:embed concord.yaml.tmpl
var configTemplate string

// Token is the private-app token the demo's CRM accepts.
const Token = "pat-demo-0000"

// WriteConfig writes concord.yaml and the token file into dir, pointing the CRM
// system at crmURL.
func WriteConfig(dir, crmURL string) (string, error) {
	t, err := template.New("concord.yaml").Parse(configTemplate)
	if err != nil {
		return "", fmt.Errorf("demo: config template: %w", err)
	}
	path := filepath.Join(dir, "concord.yaml")
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	defer f.Close()
	if err := t.Execute(f, struct{ CRMURL string }{crmURL}); err != nil {
		return "", fmt.Errorf("demo: write config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hubspot.token"), []byte(Token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo: write token: %w", err)
	}
	return path, f.Close()
}
