package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/connector/odoo"
	"github.com/concord-sync/concord/internal/connector/tryton"
	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/reconcile"
	"github.com/concord-sync/concord/internal/retry"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
	"github.com/concord-sync/concord/internal/server"
)

// demoOptions are the flags of concord demo.
type demoOptions struct {
	dir    string
	once   bool
	rounds int
	pace   time.Duration
	deals  int
	seed   uint64
	erp    string
	// console is the web console's listen address ("": none).
	console string
	run     runOptions
}

func newDemoCmd(g *globals) *cobra.Command {
	o := demoOptions{run: defaultRunOptions()}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the four order-to-cash flows live between a HubSpot-compatible CRM and an ERP; no server to set up",
		Long: `demo starts a HubSpot-compatible CRM in-process (the sandbox, seeded with Northwind's
customers, contacts, products and deals across the pipeline), builds an ERP as a SQLite
database from Northwind (customers, products, sale orders, invoices, payments) — or, when
TRYTON_URL points at a Tryton (--erp tryton, or auto), or with --erp odoo and ODOO_URL
pointing at an Odoo 17, uses a fresh database there with Northwind's products loaded — and
an embedded SQLite store, writes the config that links them (--dir/concord.yaml), and runs
the four flows live:

  customers  CRM -> ERP when a deal is won (and the ERP's credit limit back to the CRM,
             except with Odoo)
  orders     a won deal becomes an ERP sale order with its lines
  payments   the ERP invoice's number, state, amount due, paid date onto the deal
  products   the ERP catalogue into the CRM, read-only there

Meanwhile it plays both sides' users: deals are won in the CRM, the ERP invoices the
orders and customers pay, at --pace, for --rounds rounds, printing what happens and a
running summary. --once runs one full pass (seeded won deals handed over, invoiced,
paid, reported back) and exits 0 with the summary, for scripts.

Everything is written to --dir. A missing or empty directory is created and marked
with a .concord-demo file; a directory holding that file is reused, and only the
demo's own files in it (concord.yaml, concord.db, erp.db, the secret files) are
replaced. Any other non-empty directory is refused (exit 2) and left untouched.
With Tryton or Odoo, the demo's database is named after the directory
(concord_demo_<8 hex digits of its absolute path>), so two directories never share one.

SIGTERM or Ctrl-C stops the demo: the running batches get --grace-period to finish
their write and recording, the summary is printed, and demo exits 130.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			err := runDemo(ctx, g, o, cmd.OutOrStdout())
			var ee *exitError
			if err != nil && ctx.Err() != nil && !(errors.As(err, &ee) && ee.code == exitInterrupted) {
				return interrupted("before the demo started syncing")
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "demo", "directory for the ERP database, the store and the config: new, empty, or one an earlier demo created (its own files are replaced, nothing else)")
	f.BoolVar(&o.once, "once", false, "run one full pass and exit")
	f.IntVar(&o.rounds, "rounds", 6, "rounds of simulated activity (0: until interrupted)")
	f.DurationVar(&o.pace, "pace", 2*time.Second, "pause between rounds")
	f.IntVar(&o.deals, "deals", 40, "deals to seed in the CRM")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of the seeded deals and the simulated activity")
	retryFlag(cmd, &o.run)
	graceFlag(cmd, &o.run)
	f.StringVar(&o.console, "console", "127.0.0.1:8088", "listen address of the web console while the demo runs (sign in as demo, password in --dir/console.password; empty: none)")
	f.StringVar(&o.erp, "erp", "auto", "the ERP: sqlite, tryton (TRYTON_URL, TRYTON_PASSWORD and TRYTON_DATABASE or TRYTON_CLONE_CMD), odoo (ODOO_URL, ODOO_USER, ODOO_PASSWORD or ODOO_API_KEY, and ODOO_DATABASE or ODOO_CLONE_CMD), or auto (tryton when TRYTON_URL is set, else sqlite)")
	return cmd
}

func runDemo(ctx context.Context, g *globals, o demoOptions, out io.Writer) (err error) {
	if o.rounds < 0 || o.deals < 1 {
		return usageErr(errors.New("--rounds must be >= 0 and --deals >= 1"))
	}
	var odooCfg *demoOdooEnv
	switch o.erp {
	case "auto":
		o.erp = "sqlite"
		if os.Getenv("TRYTON_URL") != "" {
			o.erp = "tryton"
		}
	case "sqlite":
	case "tryton":
		if os.Getenv("TRYTON_URL") == "" {
			return usageErr(errors.New("--erp tryton needs TRYTON_URL (bash scripts/tryton.sh all, then the variables of bash scripts/tryton.sh env)"))
		}
	case "odoo":
		var err error
		if odooCfg, err = odooFromEnv(); err != nil {
			return err
		}
	default:
		return usageErr(fmt.Errorf("--erp %q: want sqlite, tryton, odoo or auto", o.erp))
	}
	if err := demo.PrepareDir(o.dir); err != nil {
		if errors.Is(err, demo.ErrDirNotOurs) {
			return usageErr(fmt.Errorf("demo: --dir %w", err))
		}
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
	ln, err := server.Listen("127.0.0.1:0", server.DefaultLimits())
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	hsrv := server.NewHTTPServer(crm.Handler(), server.DefaultLimits())
	go func() { _ = hsrv.Serve(ln) }()
	defer hsrv.Close()
	crmURL := "http://" + ln.Addr().String()

	// The ERP: the real Tryton or Odoo, else a SQLite ERP.
	var (
		erpSide  demo.ERPSide
		erpLabel string
		tryt     *demo.Tryton
		od       *demo.Odoo
		erpID    = demo.SameIDs
	)
	switch o.erp {
	case "tryton":
		tryt, err = demoTryton(ctx, os.Getenv("TRYTON_URL"), o.dir)
		if err != nil {
			return err
		}
		log, err := g.logger()
		if err != nil {
			return err
		}
		conn, err := openTryton(ctx, tryt, (&app{log: log, run: o.run}).retryPolicy(ctx, "open", "system", "erp"))
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		te := &demo.TrytonERP{Conn: conn, Rnd: rnd}
		products, err := te.LoadProducts(ctx, nw)
		if err != nil {
			return err
		}
		erpID = func(typ, nwID string) string {
			if typ == hubspot.Products {
				return products[nwID]
			}
			return "" // Tryton starts without customers: won deals bring them
		}
		erpSide, erpLabel = te, fmt.Sprintf("Tryton at %s, database %s (%d Northwind products loaded; customers arrive with won deals)", tryt.URL, tryt.Database, len(products))
	case "odoo":
		od, err = demoOdoo(ctx, odooCfg, o.dir)
		if err != nil {
			return err
		}
		log, err := g.logger()
		if err != nil {
			return err
		}
		conn, err := openOdoo(ctx, od, (&app{log: log, run: o.run}).retryPolicy(ctx, "open", "system", "erp"))
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		oe := &demo.OdooERP{Conn: conn, Rnd: rnd}
		products, err := oe.LoadProducts(ctx, nw)
		if err != nil {
			return err
		}
		erpID = func(typ, nwID string) string {
			if typ == hubspot.Products {
				return products[nwID]
			}
			return "" // Odoo starts without customers: won deals bring them
		}
		erpSide, erpLabel = oe, fmt.Sprintf("Odoo at %s, database %s (%d Northwind products loaded; customers arrive with won deals)", od.URL, od.Database, len(products))
	default:
		erpPath := filepath.Join(o.dir, "erp.db")
		if err := demo.BuildERP(ctx, erpPath, nw, time.Now()); err != nil {
			return err
		}
		erp, err := sql.Open("sqlite", "file:"+erpPath+"?_pragma=busy_timeout(5000)")
		if err != nil {
			return fmt.Errorf("demo: open erp: %w", err)
		}
		defer erp.Close()
		erpSide = &demo.SQLERP{DB: erp, Rnd: rnd, Now: time.Now}
		erpLabel = fmt.Sprintf("%s (Northwind: %d customers, %d products; set TRYTON_URL to use a real Tryton, or ODOO_URL and --erp odoo for a real Odoo)", erpPath, len(nw.Customers), len(nw.Products))
	}
	if err := demo.SetupCRM(crm, nw, o.deals, rnd, erpID); err != nil {
		return err
	}

	var cfgPath string
	if od != nil {
		cfgPath, err = demo.WriteOdooConfig(o.dir, crmURL, od)
	} else {
		cfgPath, err = demo.WriteConfig(o.dir, crmURL, tryt)
	}
	if err != nil {
		return err
	}
	g.config = cfgPath
	a, err := openAppWith(ctx, g, o.run)
	if err != nil {
		return err
	}
	defer a.Close(context.WithoutCancel(ctx))
	if err := a.queue.Start(ctx, a.eng); err != nil {
		return err
	}

	consoleLine, stopConsole := a.demoConsole(o)
	defer stopConsole()
	sim := &demo.Simulator{CRM: crm, ERP: erpSide, Rnd: rnd}
	fmt.Fprintf(out, "concord demo\n  CRM  HubSpot-compatible sandbox at %s (%d companies, %d products, %d deals, %d won)\n  ERP  %s\n  config %s\n%s\n",
		crmURL, len(nw.Customers), len(nw.Products), o.deals, len(demo.WonDeals(crm)), erpLabel, cfgPath, consoleLine)

	// play runs the passes and the rounds; on SIGTERM or Ctrl-C it returns
	// (an error or nil) as soon as the pass in progress stops.
	play := func() error {
		legs := a.eng.Legs()
		before := a.eng.Stats()
		if o.erp == "odoo" { // no finance figures flow back from Odoo
			fmt.Fprintln(out, "first pass: catalogue and the deals already won")
		} else {
			fmt.Fprintln(out, "first pass: catalogue, credit limits, and the deals already won")
		}
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
				return nil
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

		return nil
	}
	perr := play()
	// The running batches finish their write and recording (grace period)
	// before the summary counts them.
	serr := a.stopQueue(ctx)
	if ctx.Err() != nil {
		fmt.Fprintln(out, "\ninterrupted: the running batches were given the grace period to finish")
		fmt.Fprintln(out, "\nsummary")
		printSummary(out, a.eng.Stats())
		return interrupted(fmt.Sprintf("the store and the ERP stay in %s (concord events --config %s)", o.dir, cfgPath))
	}
	if perr != nil {
		return perr
	}
	if serr != nil {
		return serr
	}

	fmt.Fprintln(out, "\nsummary")
	printSummary(out, a.eng.Stats())
	fmt.Fprintf(out, `
Where to look (the store and the ERP stay in %[1]s):
  concord events --config %[2]s               every change applied, newest first (events show ID: snapshot, plan, answer)
  concord waits  --config %[2]s               changes parked until a record they need is linked
  concord deadletter list --config %[2]s     changes that failed for a reason a person must fix
  concord links  --config %[2]s --entity deal how deals are paired with ERP orders
  concord plan   --config %[2]s               what the next sync would change
To switch to your own systems: copy %[2]s, point crm at your HubSpot portal (token:
env:HUBSPOT_TOKEN, no base_url) and erp at your database, Tryton or Odoo (docs/connectors/),
then concord validate and concord plan before the first concord sync --once.
`, o.dir, cfgPath)
	if totalFailed(a.eng.Stats()) > 0 {
		return &exitError{code: exitRuntime, err: fmt.Errorf("%d changes failed; see concord events --config %s --status failed", totalFailed(a.eng.Stats()), cfgPath)}
	}
	return nil
}

// demoTryton says which Tryton database the demo uses: TRYTON_DATABASE, or a fresh
// clone made with TRYTON_CLONE_CMD (scripts/tryton.sh prints both) named after
// dir (demo.DatabaseName).
func demoTryton(ctx context.Context, url, dir string) (*demo.Tryton, error) {
	t := &demo.Tryton{URL: url, Database: os.Getenv("TRYTON_DATABASE"), User: envOr("TRYTON_USER", "concord"), Password: os.Getenv("TRYTON_PASSWORD")}
	if t.Password == "" {
		return nil, usageErr(errors.New("TRYTON_URL is set but TRYTON_PASSWORD is not (scripts/tryton.sh env prints both)"))
	}
	if t.Database != "" {
		return t, nil
	}
	clone := os.Getenv("TRYTON_CLONE_CMD")
	if clone == "" {
		return nil, usageErr(errors.New("TRYTON_URL is set: also set TRYTON_DATABASE, or TRYTON_CLONE_CMD to give the demo a fresh database (scripts/tryton.sh env)"))
	}
	// One database per demo directory: a second demo elsewhere never drops
	// this one, and the same directory gets its own database back, afresh.
	name, err := demo.DatabaseName(dir)
	if err != nil {
		return nil, err
	}
	t.Database = name
	if drop := os.Getenv("TRYTON_DROP_CMD"); drop != "" {
		_ = exec.CommandContext(ctx, "sh", "-c", drop+" "+t.Database).Run()
	}
	if out, err := exec.CommandContext(ctx, "sh", "-c", clone+" "+t.Database).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("demo: clone tryton database: %w: %s", err, out)
	}
	return t, nil
}

// openTryton opens the tryton connector on the demo's database.
// A Tryton that fails transiently (starting, busy) is retried with p.
func openTryton(ctx context.Context, t *demo.Tryton, p retry.Policy) (*tryton.Conn, error) {
	spec, _ := all.Registry(all.Deps{}).Lookup("tryton")
	var c connector.Connector
	err := retry.Do(ctx, p, func(ctx context.Context) error {
		var err error
		c, err = spec.Open(ctx, connector.OpenParams{System: "erp", Settings: map[string]any{
			"url": t.URL, "database": t.Database, "username": t.User, "password": t.Password,
		}, Logger: slog.New(slog.DiscardHandler)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo: open tryton: %w", err)
	}
	conn, ok := c.(*tryton.Conn)
	if !ok {
		return nil, fmt.Errorf("demo: tryton connector is a %T", c)
	}
	return conn, nil
}

// demoOdooEnv is the demo's Odoo as the environment gives it: the server and
// login, and either a database or the command that clones one.
type demoOdooEnv struct {
	odoo        demo.Odoo
	clone, drop string
}

const odooEnvHint = "bash scripts/odoo.sh all sets up an Odoo 17 here, and bash scripts/odoo.sh env prints the variables"

// odooFromEnv reads the variables of --erp odoo, or says which is missing.
// ODOO_API_KEY is used in place of ODOO_PASSWORD when both are set.
func odooFromEnv() (*demoOdooEnv, error) {
	e := &demoOdooEnv{odoo: demo.Odoo{
		URL: os.Getenv("ODOO_URL"), Database: os.Getenv("ODOO_DATABASE"), User: os.Getenv("ODOO_USER"),
		Password: envOr("ODOO_API_KEY", os.Getenv("ODOO_PASSWORD")),
	}, clone: os.Getenv("ODOO_CLONE_CMD"), drop: os.Getenv("ODOO_DROP_CMD")}
	switch {
	case e.odoo.URL == "":
		return nil, usageErr(fmt.Errorf("--erp odoo needs ODOO_URL, the Odoo server's URL (%s)", odooEnvHint))
	case e.odoo.User == "":
		return nil, usageErr(fmt.Errorf("--erp odoo needs ODOO_USER, the login of the integration user (%s)", odooEnvHint))
	case e.odoo.Password == "":
		return nil, usageErr(fmt.Errorf("--erp odoo needs ODOO_PASSWORD or ODOO_API_KEY, the integration user's password or API key (%s)", odooEnvHint))
	case e.odoo.Database == "" && e.clone == "":
		return nil, usageErr(fmt.Errorf("--erp odoo needs ODOO_DATABASE, or ODOO_CLONE_CMD to give the demo a fresh database (%s)", odooEnvHint))
	}
	return e, nil
}

// demoOdoo says which Odoo database the demo uses: ODOO_DATABASE, or a fresh
// clone made with ODOO_CLONE_CMD (scripts/odoo.sh prints both) named after
// dir (demo.DatabaseName).
func demoOdoo(ctx context.Context, e *demoOdooEnv, dir string) (*demo.Odoo, error) {
	o := e.odoo
	if o.Database != "" {
		return &o, nil
	}
	// One database per demo directory, as with Tryton.
	name, err := demo.DatabaseName(dir)
	if err != nil {
		return nil, err
	}
	o.Database = name
	if e.drop != "" {
		_ = exec.CommandContext(ctx, "sh", "-c", e.drop+" "+o.Database).Run()
	}
	if out, err := exec.CommandContext(ctx, "sh", "-c", e.clone+" "+o.Database).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("demo: clone odoo database: %w: %s", err, out)
	}
	return &o, nil
}

// openOdoo opens the odoo connector on the demo's database. An Odoo that
// fails transiently (loading the new database, busy) is retried with p.
func openOdoo(ctx context.Context, o *demo.Odoo, p retry.Policy) (*odoo.Conn, error) {
	spec, _ := all.Registry(all.Deps{}).Lookup("odoo")
	var c connector.Connector
	err := retry.Do(ctx, p, func(ctx context.Context) error {
		var err error
		c, err = spec.Open(ctx, connector.OpenParams{System: "erp", Settings: map[string]any{
			"url": o.URL, "database": o.Database, "username": o.User, "password": o.Password,
		}, Logger: slog.New(slog.DiscardHandler)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo: open odoo: %w", err)
	}
	conn, ok := c.(*odoo.Conn)
	if !ok {
		return nil, fmt.Errorf("demo: odoo connector is a %T", c)
	}
	return conn, nil
}

// demoERPRound plays the ERP's side: invoice the new orders, and customers pay.
func demoERPRound(ctx context.Context, sim *demo.Simulator, out io.Writer, pay int) error {
	invoiced, err := sim.ERP.Invoice(ctx)
	if err != nil {
		return err
	}
	paid, err := sim.ERP.Pay(ctx, pay)
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
			s.Skipped-before[i].Skipped, s.Stale-before[i].Stale, s.Quarantined-before[i].Quarantined, s.Retrying-before[i].Retrying+s.Waiting-before[i].Waiting, s.Failed-before[i].Failed
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

// demoConsole serves the web console on o.console until stop is called, and
// returns the line the demo prints about it ("" without one). An address in
// use (a serve already running) is said, not fatal.
func (a *app) demoConsole(o demoOptions) (line string, stop func()) {
	if o.console == "" {
		return "", func() {}
	}
	con, err := a.consoleHandler(nil, new(atomic.Pointer[reconcile.Report]))
	if err != nil || con == nil {
		return fmt.Sprintf("  console not started: %v\n", err), func() {}
	}
	ln, err := server.Listen(o.console, server.DefaultLimits())
	if err != nil {
		return fmt.Sprintf("  console not started: %v (choose another with --console 127.0.0.1:PORT)\n", err), func() {}
	}
	mux := http.NewServeMux()
	con.Register(mux)
	srv := server.NewHTTPServer(mux, server.DefaultLimits())
	go func() { _ = srv.Serve(ln) }()
	return fmt.Sprintf("  console http://%s/ (sign in as %s, password in %s)\n", ln.Addr(), demo.ConsoleUser, filepath.Join(o.dir, demo.ConsolePasswordFile)),
		func() { _ = srv.Close() }
}
