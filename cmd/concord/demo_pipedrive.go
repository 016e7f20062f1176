package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/demo"
	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/pipedrive"
	"github.com/concord-sync/concord/internal/server"
)

// runPipedriveDemo is concord demo --crm pipedrive: the Pipedrive sandbox as
// the CRM, the SQLite ERP or the Tryton of TRYTON_URL as the ERP, the same
// four flows, passes and rounds as with HubSpot.
func runPipedriveDemo(ctx context.Context, g *globals, o demoOptions, out io.Writer) error {
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

	pcfg := pipedrive.DefaultConfig()
	pcfg.Token = demo.PipedriveToken
	crm := pipedrive.New(pcfg)
	defer crm.Close()
	ln, err := server.Listen("127.0.0.1:0", server.DefaultLimits())
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	hsrv := server.NewHTTPServer(crm.Handler(), server.DefaultLimits())
	go func() { _ = hsrv.Serve(ln) }()
	defer hsrv.Close()
	crmURL := "http://" + ln.Addr().String()

	var (
		erpSide  demo.ERPSide
		erpLabel string
		tryt     *demo.Tryton
		erpID    = demo.SameIDs
	)
	if o.erp == "tryton" {
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
			if typ == "products" {
				return products[nwID]
			}
			return "" // Tryton starts without customers: won deals bring them
		}
		erpSide, erpLabel = te, fmt.Sprintf("Tryton at %s, database %s (%d Northwind products loaded; customers arrive with won deals)", tryt.URL, tryt.Database, len(products))
	} else {
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
		erpLabel = fmt.Sprintf("%s (Northwind: %d customers, %d products; set TRYTON_URL to use a real Tryton)", erpPath, len(nw.Customers), len(nw.Products))
	}
	if err := demo.SetupPipedrive(crm, nw, o.deals, rnd, erpID); err != nil {
		return err
	}
	cfgPath, err := demo.WritePipedriveConfig(o.dir, crmURL, tryt)
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
	sim := &demo.Simulator{ERP: erpSide, Rnd: rnd}
	fmt.Fprintf(out, "concord demo\n  CRM  Pipedrive-compatible sandbox at %s (%d organizations, %d products, %d deals, %d won)\n  ERP  %s\n  config %s\n%s\n",
		crmURL, len(nw.Customers), len(nw.Products), o.deals, len(demo.PipedriveWonDeals(crm)), erpLabel, cfgPath, consoleLine)

	play := func() error {
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
				return nil
			case <-time.After(o.pace):
			}
			before = a.eng.Stats()
			won, err := demo.WinPipedriveDeals(crm, rnd, 1+rnd.IntN(3))
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nround %d: CRM: %d deals won (%s)\n", round, len(won), strings.Join(won, ", "))
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
  concord events --config %[2]s               every change applied, newest first
  concord deadletter list --config %[2]s     changes that failed for a reason a person must fix
  concord links  --config %[2]s --entity deal how deals are paired with ERP orders
To switch to your own systems: copy %[2]s, point crm at your Pipedrive (api_token:
env:PIPEDRIVE_API_TOKEN, base_url your company domain; create the custom fields of
docs/connectors/pipedrive.md) and erp at your database or Tryton (docs/connectors/).
`, o.dir, cfgPath)
	if totalFailed(a.eng.Stats()) > 0 {
		return &exitError{code: exitRuntime, err: fmt.Errorf("%d changes failed; see concord events --config %s --status failed", totalFailed(a.eng.Stats()), cfgPath)}
	}
	return nil
}
