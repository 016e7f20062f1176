package demo

import (
	"crypto/rand"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/template"

	"github.com/concord-sync/concord/internal/console"
)

//go:embed concord.yaml.tmpl
var configTemplate string

//go:embed concord-tryton.yaml.tmpl
var trytonTemplate string

//go:embed concord-odoo.yaml.tmpl
var odooTemplate string

// Tryton says where the demo's Tryton ERP is.
type Tryton struct {
	URL, Database, User, Password string
}

// Odoo says where the demo's Odoo ERP is. Password is the user's password
// or one of its API keys.
type Odoo struct {
	URL, Database, User, Password string
}

// Token is the private-app token the demo's CRM accepts.
const Token = "pat-demo-0000"

// WriteConfig writes concord.yaml and the secret files into dir, pointing the
// CRM system at crmURL, and the ERP at the SQLite ERP (erp.db) or, when tryton is
// not nil, at that Tryton.
func WriteConfig(dir, crmURL string, tryton *Tryton) (string, error) {
	text, data := configTemplate, map[string]string{"CRMURL": crmURL}
	if tryton != nil {
		text = trytonTemplate
		data["TrytonURL"], data["TrytonDatabase"], data["TrytonUser"] = tryton.URL, tryton.Database, tryton.User
		if err := os.WriteFile(filepath.Join(dir, "tryton.password"), []byte(tryton.Password+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("demo: write tryton password: %w", err)
		}
	}
	return writeConfig(dir, text, data)
}

// WriteOdooConfig writes concord.yaml and the secret files into dir, pointing
// the CRM system at crmURL and the ERP at the Odoo o.
func WriteOdooConfig(dir, crmURL string, o *Odoo) (string, error) {
	data := map[string]string{"CRMURL": crmURL, "OdooURL": o.URL, "OdooDatabase": o.Database, "OdooUser": o.User}
	if err := os.WriteFile(filepath.Join(dir, "odoo.password"), []byte(o.Password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo: write odoo password: %w", err)
	}
	return writeConfig(dir, odooTemplate, data)
}

// writeConfig renders the config template text with data into dir/concord.yaml
// and writes the CRM's token file.
func writeConfig(dir, text string, data map[string]string) (string, error) {
	t, err := template.New("concord.yaml").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("demo: config template: %w", err)
	}
	path := filepath.Join(dir, "concord.yaml")
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	defer f.Close()
	if err := t.Execute(f, data); err != nil {
		return "", fmt.Errorf("demo: write config: %w", err)
	}
	if err := writeConsoleUser(dir, f); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "hubspot.token"), []byte(Token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("demo: write token: %w", err)
	}
	return path, f.Close()
}

// ConsoleUser is the web console's user in the demo's config; its password
// is in ConsolePasswordFile in the demo's directory.
const (
	ConsoleUser         = "demo"
	ConsolePasswordFile = "console.password"
)

// consoleSection is appended to the demo's config: the console's one user.
const consoleSection = `
# The web console (docs/console.md), on the demo's --console address and on
# concord serve's --addr: sign in as demo with the password in console.password.
console:
  users:
    - {name: demo, role: operator, password_hash: file:console.hash}
`

// writeConsoleUser makes a new random password for the console's demo user,
// writes it and its bcrypt hash next to the config, and the console section
// into cfg.
func writeConsoleUser(dir string, cfg io.Writer) error {
	password := rand.Text()
	hash, err := console.HashPassword(password)
	if err != nil {
		return fmt.Errorf("demo: console password: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConsolePasswordFile), []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: write console password: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console.hash"), []byte(hash+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: write console password: %w", err)
	}
	if _, err := io.WriteString(cfg, consoleSection); err != nil {
		return fmt.Errorf("demo: write config: %w", err)
	}
	return nil
}
