package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
)

// TestCLI_Match runs the review queue on the quickstart, whose CRM now also
// holds three of the ERP's customers: one typed the same (linked at once),
// two with another phone number (left for review; one accepted, one
// rejected).
func TestCLI_Match(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(context.Background(), dir, false))
	cfgPath := filepath.Join(dir, "concord.yaml")
	cfgText := strings.Replace(string(quickstart.Config), `      country:       {owner: crm, clean: [country]}
`, `      country:       {owner: crm, clean: [country]}
    match: {keys: [], fields: [name, city, phone], auto_link: 0.99, review: 0.6}
`, 1)
	require.NotEqual(t, string(quickstart.Config), cfgText)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfgText), 0o644))

	erp := openSQLite(t, filepath.Join(dir, "erp.db"))
	crm := openSQLite(t, filepath.Join(dir, "crm.db"))
	count := func(db *sql.DB, q string) int {
		var n int
		require.NoError(t, db.QueryRow(q).Scan(&n))
		return n
	}
	copyCustomer := func(id, phone string) {
		var name, contact, title, city, country, erpPhone string
		require.NoError(t, erp.QueryRow(`SELECT company_name, contact_name, contact_title, city, country, phone FROM customers WHERE customer_id = ?`, id).
			Scan(&name, &contact, &title, &city, &country, &erpPhone))
		if phone == "" {
			phone = erpPhone
		}
		_, err := crm.Exec(`INSERT INTO companies (name, contact_name, contact_title, phone, city, country, updated_at) VALUES (?, ?, ?, ?, ?, ?, '2026-02-01 00:00:00')`,
			name, contact, title, phone, city, country)
		require.NoError(t, err)
	}
	copyCustomer("ALFKI", "")
	copyCustomer("ERNSH", "+43 1 999 9999")
	copyCustomer("WARTH", "+358 40 111 2222")
	before := count(erp, `SELECT count(*) FROM customers`)

	out, code := run(t, "sync", "--once", "--config", cfgPath, "--progress", "off")
	require.Equal(t, exitOK, code, out)
	require.Equal(t, before+29, count(erp, `SELECT count(*) FROM customers`), "the 29 suppliers are created, none of the three customers")
	require.Equal(t, "ALFKI", linkedERP(t, dir, crm, "Alfreds Futterkiste"), "the identical customer is linked")
	require.Empty(t, linkedERP(t, dir, crm, "Ernst Handel"), "a review writes nothing")

	out, code = run(t, "plan", "--config", cfgPath)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "review: 2 pairs wait for a person (concord match)")

	out, code = run(t, "match", "--config", cfgPath)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "Ernst Handel")
	require.Contains(t, out, "+43 1 999 9999")
	require.Contains(t, out, "| 7675-3425") // the ERP's phone beside the CRM's
	require.Contains(t, out, "2 pairs wait for review")

	out, code = run(t, "match", "--config", cfgPath, "--json")
	require.Equal(t, exitOK, code, out)
	var reviews []struct {
		ID       int64             `json:"id"`
		TargetID string            `json:"target_id"`
		Score    float64           `json:"score"`
		Source   map[string]string `json:"source"`
		Target   map[string]string `json:"target"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &reviews))
	require.Len(t, reviews, 2)
	ids := map[string]int64{}
	for _, r := range reviews {
		ids[r.TargetID] = r.ID
		require.Equal(t, r.Source["name"], r.Target["name"])
		require.GreaterOrEqual(t, r.Score, 0.6)
		require.Less(t, r.Score, 0.99)
	}
	require.Contains(t, ids, "ERNSH")
	require.Contains(t, ids, "WARTH")

	out, code = run(t, "match", "accept", "--config", cfgPath, fmt.Sprint(ids["ERNSH"]))
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "accepted 1 pairs")
	require.Equal(t, "ERNSH", linkedERP(t, dir, crm, "Ernst Handel"))
	var phone string
	require.NoError(t, erp.QueryRow(`SELECT phone FROM customers WHERE customer_id = 'ERNSH'`).Scan(&phone))
	require.Equal(t, "+43 1 999 9999", phone, "accepted: the CRM's values reach the ERP record as an update")

	out, code = run(t, "match", "reject", "--config", cfgPath, fmt.Sprint(ids["WARTH"]))
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "rejected 1 pairs")
	require.Equal(t, before+30, count(erp, `SELECT count(*) FROM customers`), "rejected: created")
	wartian := linkedERP(t, dir, crm, "Wartian Herkku")
	require.NotEmpty(t, wartian)
	require.NotEqual(t, "WARTH", wartian)

	out, code = run(t, "match", "accept", "--config", cfgPath, fmt.Sprint(ids["WARTH"]))
	require.Equal(t, exitUsage, code, out)
	require.Contains(t, out, "already decided")

	out, code = run(t, "match", "--config", cfgPath)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "no pairs wait for review")

	// The ERP now holds Wartian Herkku twice: --within finds them.
	out, code = run(t, "match", "--within", "erp", "account", "--config", cfgPath)
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "Wartian Herkku")
	require.Contains(t, out, "WARTH")
	require.Contains(t, out, "Concord never merges records inside a system")
	out, code = run(t, "match", "--within", "erp", "account", "--config", cfgPath, "--json")
	require.Equal(t, exitOK, code, out)
	var clusters []struct {
		IDs     []string                     `json:"ids"`
		Records map[string]map[string]string `json:"records"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &clusters))
	found := false
	for _, c := range clusters {
		if len(c.IDs) == 2 && c.Records["WARTH"] != nil && c.Records[wartian] != nil {
			found = true
		}
	}
	require.True(t, found, "the two Wartian Herkku records form a cluster: %s", out)

	t.Run("ErrUsage", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"match", "accept"},
			{"match", "accept", "1", "--above", "0.9"},
			{"match", "accept", "x"},
			{"match", "reject"},
			{"match", "--within", "erp"},
			{"match", "--within", "nowhere", "account"},
			{"match", "--within", "erp", "invoice"},
		} {
			out, code := run(t, append(args, "--config", cfgPath)...)
			require.Equal(t, exitUsage, code, "%v: %s", args, out)
		}
	})
}

// linkedERP returns the ERP id of the account the CRM company called name is
// linked to in the store, or "".
func linkedERP(t *testing.T, dir string, crm *sql.DB, name string) string {
	t.Helper()
	var id string
	require.NoError(t, crm.QueryRow(`SELECT id FROM companies WHERE name = ?`, name).Scan(&id))
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "concord.db"), nil)
	require.NoError(t, err)
	defer st.Close()
	src, err := st.GetLinks(ctx, &store.GetLinksParams{System: "crm", Entity: model.Account, ExternalIDs: []string{id}})
	require.NoError(t, err)
	lk, ok := src[id]
	if !ok {
		return ""
	}
	tgt, err := st.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: "erp", Entity: model.Account, ConcordIDs: []string{lk.ConcordID}})
	require.NoError(t, err)
	return tgt[lk.ConcordID].ExternalID
}

// TestLegs_Unlinked checks what legs do with unlinked records by default: a
// one-way account flow matches, the reverse leg of a two-way flow never
// creates, a flow of an entity without match rules creates.
func TestLegs_Unlinked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "concord.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`version: 1
owner: ops@example.com
systems:
  - {name: crm, connector: sql, settings: {driver: sqlite, path: crm.db, entities: {account: {table: a, id: id, updated_at: u, link: l, fields: {name: name}}}}}
  - {name: erp, connector: sql, settings: {driver: sqlite, path: erp.db, entities: {account: {table: a, id: id, updated_at: u, link: l, fields: {name: name}}}}}
entities:
  account: {fields: {name: {owner: crm}, credit_limit: {owner: erp}}}
  invoice: {fields: {number: {owner: erp}}}
flows:
  - {name: customers, source: crm, target: erp, entity: account, fields: [name, credit_limit], mode: two-way, conflict: owner_wins}
  - {name: invoices, source: erp, target: crm, entity: invoice, fields: [number]}
`), 0o644))
	cfg, err := config.Load(path, all.Registry(all.Deps{}))
	require.NoError(t, err)
	got := map[string]string{}
	for _, l := range Legs(cfg) {
		got[l.Name] = l.Unlinked
		if l.Unlinked == engine.UnlinkedMatch {
			require.NotEmpty(t, l.Match.Fields)
		}
	}
	require.Equal(t, map[string]string{"customers": engine.UnlinkedMatch, "customers:reverse": engine.UnlinkedUpdateOnly, "invoices": engine.UnlinkedCreate}, got)
}
