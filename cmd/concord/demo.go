package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// demoOptions are the flags of concord demo.
type demoOptions struct {
	dir    string
	once   bool
	rounds int
	pace   time.Duration
	deals  int
	seed   uint64
}

func newDemoCmd(g *globals) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the four order-to-cash flows live between a HubSpot-compatible CRM and an ERP; no server to set up",
		Long: `demo starts a HubSpot-compatible CRM in-process (the sandbox, seeded with Northwind's
customers, contacts, products and deals across the pipeline), builds an ERP as a SQLite
database from Northwind (customers, products, sale orders, invoices, payments) and an
embedded SQLite store, writes the config that links them (--dir/concord.yaml), and runs
the four flows live:

  customers  CRM -> ERP when a deal is won (and the ERP's credit limit back to the CRM)
  orders     a won deal becomes an ERP sale order with its lines
  payments   the ERP invoice's number, state, amount due, paid date onto the deal
  products   the ERP catalogue into the CRM, read-only there

Meanwhile it plays both sides' users: deals are won in the CRM, the ERP invoices the
orders and customers pay, at --pace, for --rounds rounds, printing what happens and a
running summary. --once runs one full pass (seeded won deals handed over, invoiced,
paid, reported back) and exits 0 with the summary, for scripts. Everything is written
to --dir, which is started afresh.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "demo", "directory for the ERP database, the store and the config (emptied first)")
	f.BoolVar(&o.once, "once", false, "run one full pass and exit")
	f.IntVar(&o.rounds, "rounds", 6, "rounds of simulated activity (0: until interrupted)")
	f.DurationVar(&o.pace, "pace", 2*time.Second, "pause between rounds")
	f.IntVar(&o.deals, "deals", 40, "deals to seed in the CRM")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of the seeded deals and the simulated activity")
	return cmd
}

func runDemo(ctx context.Context, g *globals, o demoOptions, out io.Writer) (err error) {
	if o.rounds < 0 || o.deals < 1 {
		return usageErr(errors.New("--rounds must be >= 0 and --deals >= 1"))
	}
	if err := os.RemoveAll(o.dir); err != nil {
		return fmt.Errorf("demo: reset %s: %w", o.dir, err)
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	nw, err := northwind.Load()
	if err != nil {
		return err
	}
	rnd := rand.New(rand.NewPCG(o.seed, o.seed+1))

	// The CRM: the HubSpot-compatible sandbox, on a local port.
	hcfg := hubspot.DefaultConfig()
	hcfg.Token = demo.Token
	hcfg.SearchDelay = 50 * time.Millisecond
	crm := hubspot.New(hcfg)
	defer crm.Close()
	if err := demo.SetupCRM(crm, nw, o.deals, rnd); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: listen: %w", err)
	}
	hsrv := &http.Server{Handler: crm.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hsrv.Serve(ln) }()
	defer hsrv.Close()
	crmURL := "http://" + ln.Addr().String()

	// The ERP.
	erpPath := filepath.Join(o.dir, "erp.db")
	if err := demo.BuildERP(ctx, erpPath, nw, time.Now()); err != nil {
		return err
	}
	erp, err := sql.Open("sqlite", "file:"+erpPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return fmt.Errorf("demo: open erp: %w", err)
	}
	defer erp.Close()

	cfgPath, err := demo.WriteConfig(o.dir, crmURL)
	if err != nil {
		return err
	}
	g.config = cfgPath
	a, err := openApp(ctx, g)
	if err != nil {
		return err
	}
	defer a.Close(context.WithoutCancel(ctx))
	if err := a.queue.Start(ctx, a.eng); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.queue.Stop(context.WithoutCancel(ctx))) }()

	sim := &demo.Simulator{CRM: crm, ERP: erp, Rnd: rnd, Now: time.Now}
	fmt.Fprintf(out, "concord demo\n  CRM  HubSpot-compatible sandbox at %s (%d companies, %d products, %d deals, %d won)\n  ERP  %s (Northwind: %d customers, %d products)\n  config %s\n\n",
		crmURL, len(nw.Customers), len(nw.Products), o.deals, len(demo.WonDeals(crm)), erpPath, len(nw.Customers), len(nw.Products), cfgPath)

	legs := a.eng.Legs()
	before := a.eng.Stats()
	fmt.Fprintln(out, "first pass: catalogue, credit limits, and the deals already won")
	if err := a.pass(ctx, legs); err != nil {
		return err
	}
	if err := demoERPRound(ctx, sim, out, 3); err != nil {
		return err
	}
	if err := a.pass(ctx, legs); err != nil {
		return err
	}
	printDelta(out, before, a.eng.Stats())

	for round := 1; !o.once && (o.rounds == 0 || round <= o.rounds); round++ {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "\ninterrupted")
			round = o.rounds + 1
			continue
		case <-time.After(o.pace):
		}
		before = a.eng.Stats()
		won, err := sim.WinDeals(1 + rnd.IntN(3))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\nround %d: CRM: %d deals won (%s)\n", round, len(won), strings.Join(won, ", "))
		time.Sleep(2 * hcfg.SearchDelay) // HubSpot's search index lags behind writes
		if err := a.pass(ctx, legs); err != nil {
			return err
		}
		if err := demoERPRound(ctx, sim, out, 1+rnd.IntN(2)); err != nil {
			return err
		}
		if err := a.pass(ctx, legs); err != nil {
			return err
		}
		printDelta(out, before, a.eng.Stats())
	}

	fmt.Fprintln(out, "\nsummary")
	printSummary(out, a.eng.Stats())
	fmt.Fprintf(out, `
Where to look (the store and the ERP stay in %[1]s):
  concord events --config %[2]s               every change applied, newest first (events show ID: snapshot, plan, answer)
  concord events --config %[2]s --status retrying
  concord links  --config %[2]s --entity deal how deals are paired with ERP orders
  concord plan   --config %[2]s               what the next sync would change
  sqlite3 %[1]s/erp.db 'select * from invoices'
To switch to your own systems: copy %[2]s, point crm at your HubSpot portal (token:
env:HUBSPOT_TOKEN, no base_url) and erp at your database or Tryton (docs/connectors/),
then concord validate and concord plan before the first concord sync --once.
`, o.dir, cfgPath)
	if totalFailed(a.eng.Stats()) > 0 {
		return &exitError{code: exitRuntime, err: fmt.Errorf("%d changes failed; see concord events --config %s --status failed", totalFailed(a.eng.Stats()), cfgPath)}
	}
	return nil
}

// demoERPRound plays the ERP's side: invoice the new orders, and customers pay.
func demoERPRound(ctx context.Context, sim *demo.Simulator, out io.Writer, pay int) error {
	invoiced, err := sim.InvoiceOrders(ctx)
	if err != nil {
		return err
	}
	paid, err := sim.PayInvoices(ctx, pay)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  ERP: %d orders invoiced, %d invoices paid\n", invoiced, paid)
	return nil
}

// printDelta prints what each flow did since before, on one line.
func printDelta(out io.Writer, before, after []engine.Stats) {
	var parts []string
	for i, s := range after {
		d := s
		d.Read, d.Created, d.Updated, d.Unchanged, d.Skipped, d.Stale, d.Quarantined, d.Retrying, d.Failed =
			s.Read-before[i].Read, s.Created-before[i].Created, s.Updated-before[i].Updated, s.Unchanged-before[i].Unchanged,
			s.Skipped-before[i].Skipped, s.Stale-before[i].Stale, s.Quarantined-before[i].Quarantined, s.Retrying-before[i].Retrying, s.Failed-before[i].Failed
		if d.Created+d.Updated+d.Retrying+d.Failed+d.Quarantined == 0 {
			continue
		}
		p := fmt.Sprintf("%s +%d created +%d updated", s.Leg, d.Created, d.Updated)
		if d.Retrying > 0 {
			p += fmt.Sprintf(" (%d waited)", d.Retrying)
		}
		if d.Failed+d.Quarantined > 0 {
			p += fmt.Sprintf(" (%d failed, %d quarantined)", d.Failed, d.Quarantined)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		parts = []string{"nothing to do"}
	}
	fmt.Fprintf(out, "  sync: %s\n", strings.Join(parts, "; "))
}
