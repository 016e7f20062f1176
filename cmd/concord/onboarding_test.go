package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// onboardingCRM is a MariaDB CRM that a sales team typed by hand over the
// years: 70% of the Northwind ERP's customers, each typed differently (a legal
// form added, capitals, accents dropped, "&" for "and", words reordered, a
// phone in international format or missing), and companies the ERP does not
// know, some with a Northwind customer's name in another country. notes holds
// the truth for the test (the Northwind id, or "new"); no mapping reads it.
// It returns the DSN and the truth per CRM id.
func onboardingCRM(t *testing.T, nw *northwind.Data) (string, map[string]string) {
	t.Helper()
	dsn := mariaDatabase(t, "concord_onboard_crm_")
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(t.Context(), `CREATE TABLE companies (
		id INT AUTO_INCREMENT PRIMARY KEY,
		company_name VARCHAR(100) NOT NULL,
		address VARCHAR(100),
		city VARCHAR(50),
		postal_code VARCHAR(10),
		country VARCHAR(50),
		phone VARCHAR(30),
		notes TEXT)`)
	require.NoError(t, err)

	stripAccents := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	type row struct{ name, address, city, zip, country, phone, truth string }
	var rows []row
	for i, c := range nw.Customers {
		if i%10 >= 7 { // 70% shared
			continue
		}
		r := row{name: c.CompanyName, address: c.Address, city: c.City, zip: c.PostalCode, country: c.Country, phone: c.Phone, truth: c.ID}
		switch i % 5 {
		case 0:
			r.name += " GmbH"
		case 1:
			r.name = strings.ToUpper(r.name)
		case 2:
			r.name, _, _ = transform.String(stripAccents, strings.ReplaceAll(r.name, " y ", " & "))
			r.address, _, _ = transform.String(stripAccents, r.address)
		case 3:
			if w := strings.Fields(r.name); len(w) > 1 {
				r.name = strings.Join(append(w[1:], w[0]), " ")
			}
		case 4:
			r.name = strings.ToLower(r.name) + " ltd."
		}
		switch i % 3 {
		case 0:
			r.phone = ""
		case 1:
			r.address = ""
		}
		rows = append(rows, r)
	}
	for i, n := range []string{"Nordic Timber", "Lakeside Provisions", "Kaffeehaus Ostwind", "Bodega del Puerto", "Maple Leaf Grocers",
		"Sakura Imports", "Cervejaria Atlântica", "Tulip & Windmill Foods", "Danube Delikatessen", "Highland Larder"} {
		rows = append(rows, row{name: n + " Ltd", address: fmt.Sprintf("%d Harbour Road", 10+i), city: "Dublin", zip: fmt.Sprintf("D0%d", i), country: "Ireland", phone: fmt.Sprintf("+353 1 555 01%02d", i), truth: "new"})
	}
	// Look-alikes: a Northwind customer's name, another company elsewhere.
	for _, c := range nw.Customers[:4] {
		rows = append(rows, row{name: c.CompanyName, address: "1 Market Square", city: "Melbourne", zip: "3000", country: "Australia", phone: "+61 3 9000 0000", truth: "new"})
	}
	truth := map[string]string{}
	for i, r := range rows {
		_, err := db.ExecContext(t.Context(), "INSERT INTO companies (company_name, address, city, postal_code, country, phone, notes) VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), ?)",
			r.name, r.address, r.city, r.zip, r.country, r.phone, r.truth)
		require.NoError(t, err)
		truth[fmt.Sprint(i+1)] = r.truth
	}
	return dsn, truth
}

// TestOnboarding_FirstDay is the first day on two systems that already hold
// data, as docs/onboarding.md tells it: init proposes the config and the DDL,
// the DBA applies the DDL, the first sync links the customers both systems
// hold instead of creating them again, likely pairs wait for a person, and
// after the review every CRM company has exactly one ERP customer.
func TestOnboarding_FirstDay(t *testing.T) {
	t.Parallel()
	nw, err := northwind.Load()
	require.NoError(t, err)
	erpURL := northwindPostgres(t)
	crmDSN, truth := onboardingCRM(t, nw)
	shared, fresh := 0, 0
	for _, v := range truth {
		if v == "new" {
			fresh++
		} else {
			shared++
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "concord.yaml")

	out, code := run(t, "init", "--config", cfg, "--crm", "sql:mysql:"+crmDSN, "--erp", "sql:"+erpURL, "--owner", "jane.doe@example.com")
	require.Equal(t, exitOK, code, out)
	written, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.Contains(t, string(written), "street: address")

	pg, err := sql.Open("pgx", erpURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close() })
	erpDDL, err := os.ReadFile(filepath.Join(dir, "concord-ddl-erp.sql"))
	require.NoError(t, err)
	_, err = pg.ExecContext(t.Context(), string(erpDDL))
	require.NoError(t, err)
	mc, err := mysql.ParseDSN(crmDSN)
	require.NoError(t, err)
	mc.MultiStatements = true
	my, err := sql.Open("mysql", mc.FormatDSN())
	require.NoError(t, err)
	t.Cleanup(func() { _ = my.Close() })
	crmDDL, err := os.ReadFile(filepath.Join(dir, "concord-ddl-crm.sql"))
	require.NoError(t, err)
	_, err = my.ExecContext(t.Context(), string(crmDDL))
	require.NoError(t, err)

	// doctor checks the config against the live systems: with the DDL applied,
	// nothing is missing.
	out, code = run(t, "doctor", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "0 problem(s)")

	erpCount := func() int {
		var n int
		require.NoError(t, pg.QueryRowContext(t.Context(), "SELECT count(*) FROM customers").Scan(&n))
		return n
	}

	// The first sync: shared customers are linked or wait for review; only the
	// companies the ERP does not know are created.
	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	rows, err := pg.QueryContext(t.Context(), "SELECT customer_id, company_name FROM customers")
	require.NoError(t, err)
	nwIDs := map[string]bool{}
	for _, c := range nw.Customers {
		nwIDs[c.ID] = true
	}
	created := 0
	for rows.Next() {
		var id, name string
		require.NoError(t, rows.Scan(&id, &name))
		if nwIDs[id] {
			continue
		}
		created++
		require.Equal(t, "new", truth[id], "ERP customer %s %q was created for a CRM company the ERP already held", id, name)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(nw.Customers)+created, erpCount())

	out, code = run(t, "match", "--config", cfg, "--json")
	require.Equal(t, exitOK, code, out)
	var reviews []struct {
		ID         int64  `json:"id"`
		ExternalID string `json:"id_in_system"`
		TargetID   string `json:"target_id"`
		Score      float64
	}
	require.NoError(t, json.Unmarshal([]byte(out), &reviews), out)
	t.Logf("first sync: %d shared and %d new CRM companies; %d created, %d pairs to review", shared, fresh, created, len(reviews))

	// A person reviews: the true pairs are accepted, the others rejected.
	var accept, reject []string
	for _, r := range reviews {
		if truth[r.ExternalID] == r.TargetID {
			accept = append(accept, fmt.Sprint(r.ID))
		} else {
			reject = append(reject, fmt.Sprint(r.ID))
		}
	}
	if len(accept) > 0 {
		out, code = run(t, append([]string{"match", "accept", "--config", cfg}, accept...)...)
		require.Equal(t, exitOK, code, out)
	}
	if len(reject) > 0 {
		out, code = run(t, append([]string{"match", "reject", "--config", cfg}, reject...)...)
		require.Equal(t, exitOK, code, out)
	}
	out, code = run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)

	// Every CRM company has exactly one ERP customer: the shared ones their
	// Northwind customer, the new ones a customer of their own.
	require.Equal(t, len(nw.Customers)+fresh, erpCount(), "one ERP customer per new CRM company, none for a shared one")
	out, code = run(t, "links", "--config", cfg, "--entity", "account", "--limit", "10000", "--json")
	require.Equal(t, exitOK, code, out)
	var links []struct {
		ConcordID  string
		System     string
		ExternalID string
	}
	require.NoError(t, json.Unmarshal([]byte(out), &links), out)
	byConcord := map[string]map[string]string{}
	for _, l := range links {
		if byConcord[l.ConcordID] == nil {
			byConcord[l.ConcordID] = map[string]string{}
		}
		byConcord[l.ConcordID][l.System] = l.ExternalID
	}
	linked := 0
	for _, pair := range byConcord {
		crmID, erpID := pair["crm"], pair["erp"]
		if crmID == "" || erpID == "" {
			continue
		}
		linked++
		if want := truth[crmID]; want != "new" {
			require.Equal(t, want, erpID, "CRM company %s linked to the wrong ERP customer", crmID)
		} else {
			require.False(t, nwIDs[erpID], "new CRM company %s linked to Northwind customer %s", crmID, erpID)
		}
	}
	require.Equal(t, len(truth), linked, "every CRM company is linked")
	out, code = run(t, "match", "--config", cfg, "--json")
	require.Equal(t, exitOK, code, out)
	require.JSONEq(t, "[]", out, "no review left")
}

// TestPlan_ErrNamesFlowLine: a database error while planning names the flow's
// config line and points at concord doctor, which names the setting and the
// fix.
func TestPlan_ErrNamesFlowLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfg := filepath.Join(dir, "concord.yaml")
	out, code := run(t, "sync", "--once", "--config", cfg, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	_, err := erp.Exec(`ALTER TABLE customers RENAME COLUMN contact_title TO title`)
	require.NoError(t, err)
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	_, err = crm.Exec(`UPDATE companies SET name = name || ' x' WHERE id = 1`)
	require.NoError(t, err)

	out, code = run(t, "plan", "--config", cfg)
	require.Equal(t, exitRuntime, code, out)
	require.Regexp(t, `concord\.yaml:\d+: flow customers: .*no such column: contact_title.*concord doctor`, out)
	out, code = run(t, "doctor", "--config", cfg)
	require.Equal(t, exitRuntime, code, out)
	require.Regexp(t, `concord\.yaml:\d+:\d+: problem: column customers\.contact_title \(account\) does not exist`, out)
}

// TestInit_HubSpot: init against the HubSpot-compatible sandbox (seeded from
// Northwind) and a SQLite ERP lists HubSpot's object types and properties,
// proposes the mapping, and the config validates, passes doctor (the quickstart
// ERP already has what change detection needs) and syncs.
func TestInit_HubSpot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := hubspot.DefaultConfig()
	cfg.Token = "pat-init"
	cfg.SearchDelay = 10 * time.Millisecond
	crm := hubspot.New(cfg)
	t.Cleanup(func() { _ = crm.Close() })
	hs := httptest.NewServer(crm.Handler())
	t.Cleanup(hs.Close)
	for _, c := range []map[string]string{
		{"name": "Wilman Kala", "city": "Helsinki", "phone": "+358 90 224 8858", "country": "Finland"},
		{"name": "Blue Fjord AS", "city": "Oslo", "phone": "+47 22 12 34 56", "country": "Norway"},
	} {
		_, err := crm.Put("companies", c)
		require.NoError(t, err)
	}
	require.NoError(t, quickstart.Setup(context.Background(), filepath.Join(dir, "qs"), false))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hubspot_token"), []byte("pat-init\n"), 0o600))
	path := filepath.Join(dir, "concord.yaml")

	out, code := run(t, "init", "--config", path, "--crm", "hubspot", "--crm-setting", "token=file:hubspot_token", "--crm-setting", "base_url="+hs.URL,
		"--erp", "sql:sqlite:"+filepath.Join(dir, "qs", "erp.db"), "--owner", "jane.doe@example.com")
	require.Equal(t, exitOK, code, out)
	written, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(written)
	t.Log(text)
	require.Contains(t, text, "connector: hubspot")
	require.Contains(t, text, `token: "file:hubspot_token"`, "the secret stays a reference")
	require.Regexp(t, `(?m)^\s+name: name$`, text, "HubSpot's company name property is mapped")

	out, code = run(t, "validate", "--config", path)
	require.Equal(t, exitOK, code, out)
	out, code = run(t, "doctor", "--config", path)
	require.Equal(t, exitOK, code, out)
	out, code = run(t, "sync", "--once", "--config", path, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	erp := openSQLite(t, filepath.Join(dir, "qs", "erp.db"))
	var n int
	require.NoError(t, erp.QueryRow(`SELECT count(*) FROM customers WHERE company_name IN ('Wilman Kala', 'Blue Fjord AS')`).Scan(&n))
	require.Equal(t, 2, n, "the HubSpot companies reached the ERP")
}

// TestIntegrationInit_Tryton: init against the real Tryton (its models and
// fields read over JSON-RPC) and the quickstart's SQLite CRM proposes a config
// that validates, passes doctor and syncs Tryton's products into the CRM.
func TestIntegrationInit_Tryton(t *testing.T) {
	t.Parallel()
	env := trytontest.Clone(t)
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), filepath.Join(dir, "qs"), false))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tryton.password"), []byte(env.Password+"\n"), 0o600))
	path := filepath.Join(dir, "concord.yaml")
	out, code := run(t, "init", "--config", path, "--crm", "sql:sqlite:"+filepath.Join(dir, "qs", "crm.db"),
		"--erp", "tryton", "--erp-setting", "url="+env.URL, "--erp-setting", "database="+env.Database,
		"--erp-setting", "username="+env.User, "--erp-setting", "password=file:tryton.password", "--owner", "jane.doe@example.com")
	require.Equal(t, exitOK, code, out)
	written, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(written)
	require.Contains(t, text, "connector: tryton")
	require.Contains(t, text, `password: "file:tryton.password"`, "the secret stays a reference")
	require.Contains(t, text, "- name: products", "a products flow ERP -> CRM is proposed")

	out, code = run(t, "validate", "--config", path)
	require.Equal(t, exitOK, code, "%s\n%s", out, text)
	out, code = run(t, "doctor", "--config", path)
	require.Equal(t, exitOK, code, "%s\n%s", out, text)
	out, code = run(t, "sync", "--once", "--config", path, "--progress", "off", "--flow", "products")
	require.Equal(t, exitOK, code, out)

	rpc, err := trytonrpc.New(trytonrpc.Config{URL: env.URL, Database: env.Database, Username: env.User, Password: env.Password})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rpc.Close(context.Background()) })
	ids, err := rpc.Search(context.Background(), "product.product", nil, trytonrpc.SearchOptions{})
	require.NoError(t, err)
	crm := openSQLite(t, filepath.Join(dir, "qs", "crm.db"))
	var n int
	require.NoError(t, crm.QueryRow(`SELECT count(*) FROM products WHERE erp_product_id IS NOT NULL`).Scan(&n))
	require.GreaterOrEqual(t, n, len(ids), "Tryton's products reached the CRM (matched or created)")
}
