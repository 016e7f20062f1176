package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector/tryton/trytontest"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// TestIntegrationReport: the reporting layer kept from the real Tryton and the
// CRM: a won deal handed over, invoiced with Tryton's 10% tax and paid; the
// month's revenue is the invoice's lines before tax, exactly as Tryton
// computed them (4 x 250 less 10% = 900), and the deal counts as won,
// invoiced and paid.
func TestIntegrationReport(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	erpProduct := w.product("REP-1", "Reported widget", "250")
	w.syncOK()
	item := w.crmProductOf(erpProduct).ID
	company := w.company("Report Partners SA", "Lyon", "FR")
	today := time.Now().UTC().Format("2006-01-02T00:00:00.000Z")
	deal, _ := w.deal("Reported deal", company, lineSpec{item, "4", "250", "10"})
	_, err := w.crm.Update(hubspot.Deals, deal, map[string]string{"closedate": today})
	require.NoError(t, err)
	w.win(deal)
	w.syncOK()
	sale := w.oneSale(deal)
	require.Len(t, sale.Invoices, 1)
	require.NoError(t, trytontest.PostInvoice(ctx, w.rpc(), sale.Invoices[0]))
	require.NoError(t, trytontest.PayInvoice(ctx, w.rpc(), sale.Invoices[0], "Cash"))
	w.syncOK()

	out, code := w.concord("report", "refresh")
	require.Equal(t, 0, code, out)
	month := time.Now().UTC().Format("2006-01")
	path := filepath.Join(w.dir, "revenue.json")
	out, code = w.concord("report", "revenue-by-segment", "--format", "json", "--since", month+"-01", "--output", path)
	require.Equal(t, 0, code, out)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var rev struct {
		Rows []map[string]any `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(b, &rev), string(b))
	require.Len(t, rev.Rows, 1, string(b))
	require.Equal(t, month, rev.Rows[0]["month"], string(b))
	require.Equal(t, "900", rev.Rows[0]["revenue"], "lines before tax, exact: %s", b)

	path = filepath.Join(w.dir, "won-to-paid.json")
	out, code = w.concord("report", "won-to-paid", "--format", "json", "--output", path)
	require.Equal(t, 0, code, out)
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), `"paid"`, "the report has a paid count: %s", b)
}
