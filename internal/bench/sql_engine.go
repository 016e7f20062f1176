package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
)

// SQLEngineParams configure RunSQLEngine.
type SQLEngineParams struct {
	PostgresDSN string
	MySQLDSN    string
	Rows        int
	BatchSize   int
	// Store is the engine's store: "sqlite" (a file in Dir) or "postgres" (a
	// new schema at PostgresDSN, dropped afterwards).
	Store string
	Dir   string
	Log   *slog.Logger
}

// SQLEngineResult is what RunSQLEngine measured.
type SQLEngineResult struct {
	Rows    int
	Elapsed time.Duration
	// ChangesPerS is the sync's rate; PlainPerS the plain batched copy's
	// rate for the same rows in the same run.
	ChangesPerS, PlainPerS float64
	// RSSAt is the resident memory when 10 %, 50 % and 100 % of the rows
	// were written; PeakRSS the sync's peak (VmHWM), PlainPeakRSS the plain
	// copy's. 0 when unknown (not Linux).
	RSSAt                 [3]uint64
	PeakRSS, PlainPeakRSS uint64
}

// sqlEngineScenario is the sync of a PostgreSQL table into a MariaDB one
// through the real engine, store and queue (issue 13 item 2).
func sqlEngineScenario() Scenario {
	return Scenario{
		Name:    "sql-engine",
		Summary: "accounts synced from a PostgreSQL table into a MariaDB table through the sql connector and the real engine, store and queue: changes/s and resident memory, against a plain batched Go copy of the same rows",
		Needs:   "--dsn or TEST_DATABASE_URL (PostgreSQL, also the postgres store) and --mysql-dsn or TEST_MYSQL_DSN (MariaDB/MySQL)",
		Run: func(ctx context.Context, env Env) ([]Figure, error) {
			if env.PostgresDSN == "" || env.MySQLDSN == "" {
				return nil, missing("sql-engine", "--dsn or TEST_DATABASE_URL and --mysql-dsn or TEST_MYSQL_DSN")
			}
			rows := env.Records
			if rows == 0 {
				rows = 100_000
			}
			var out []Figure
			for _, s := range env.Stores {
				// Repeated, the sync and its plain copy alternate; the rates are
				// medians, the peak RSS the highest of the runs.
				runs := max(env.Repeat, 1)
				var syncs, plains []float64
				var r SQLEngineResult
				for k := range runs {
					dir, err := os.MkdirTemp(env.Dir, "sql-engine-")
					if err != nil {
						return out, err
					}
					fmt.Fprintf(env.Progress, "sql-engine: %d rows PostgreSQL -> MariaDB on the %s store (run %d of %d)\n", rows, s, k+1, runs)
					got, err := RunSQLEngine(ctx, SQLEngineParams{PostgresDSN: env.PostgresDSN, MySQLDSN: env.MySQLDSN, Rows: rows,
						BatchSize: env.BatchSize, Store: s, Dir: dir, Log: env.Log})
					if err != nil {
						return out, err
					}
					if k == 0 || got.PeakRSS > r.PeakRSS {
						r = got
					}
					syncs, plains = append(syncs, got.ChangesPerS), append(plains, got.PlainPerS)
				}
				suffix := ""
				if runs > 1 {
					suffix = fmt.Sprintf(", median of %d", runs)
				}
				out = append(out,
					Figure{Scenario: "sql-engine", Case: fmt.Sprintf("%s, backfill %d rows%s", s, rows, suffix), Value: median(syncs), Unit: "changes/s",
						Baseline: median(plains), BaselineName: "plain batched Go copy", Note: fmt.Sprintf("%.1f s", float64(rows)/median(syncs))},
					Figure{Scenario: "sql-engine", Case: fmt.Sprintf("%s, peak RSS", s), Value: mibs(r.PeakRSS), Unit: "MiB",
						Baseline: mibs(r.PlainPeakRSS), BaselineName: "plain copy's peak", LowerIsBetter: true, Target: "<= 256 MiB",
						Note: fmt.Sprintf("RSS %s/%s/%s MiB at 10/50/100 %%", mib(r.RSSAt[0]), mib(r.RSSAt[1]), mib(r.RSSAt[2]))})
			}
			return out, nil
		},
	}
}

func mibs(b uint64) float64 { return float64(b) / (1 << 20) }

// RunSQLEngine fills a new PostgreSQL table with p.Rows accounts and syncs it
// into a new MariaDB table through the sql connector on both sides and the
// real engine, store and durable queue, as `concord sync` would (one leg,
// creates linked by the source id). Then, in the same run, a plain batched
// Go copy writes the same rows into another MariaDB table. It measures each
// one's rate and peak resident memory; the sync's peak is read before the
// copy runs, and the copy's with the peak reset (Linux). It checks that
// every row arrived. The tables and the store are dropped afterwards.
func RunSQLEngine(ctx context.Context, p SQLEngineParams) (SQLEngineResult, error) {
	if p.Rows <= 0 {
		p.Rows = 100_000
	}
	if p.BatchSize < 1 {
		p.BatchSize = 500
	}
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	res := SQLEngineResult{Rows: p.Rows}
	tabs, err := newSQLTables(ctx, p.PostgresDSN, p.MySQLDSN, p.Rows, true, "cc_bench_dst_", "cc_bench_plain_")
	if err != nil {
		return res, fmt.Errorf("bench sql-engine: %w", err)
	}
	defer tabs.Close()
	dst, plain := tabs.targets[0], tabs.targets[1]

	st, drop, err := openStore(ctx, Params{Store: p.Store, DSN: p.PostgresDSN, Dir: p.Dir, Log: p.Log}, "sync.db")
	if err != nil {
		return res, err
	}
	defer drop()
	defer st.Close()
	source, err := openSQL(ctx, "crm", sqlSettings(sqlconn.DriverPostgres, p.PostgresDSN, tabs.src), p.Log)
	if err != nil {
		return res, fmt.Errorf("bench sql-engine: %w", err)
	}
	defer source.Close(ctx)
	target, err := openSQL(ctx, "erp", sqlSettings(sqlconn.DriverMySQL, p.MySQLDSN, dst), p.Log)
	if err != nil {
		return res, fmt.Errorf("bench sql-engine: %w", err)
	}
	defer target.Close(ctx)

	marks := [3]int64{int64(p.Rows) / 10, int64(p.Rows) / 2, int64(p.Rows)}
	var next atomic.Int32
	erp := &countingWrites{Connector: target, onWrite: func(total int64) {
		for {
			k := next.Load()
			if k >= int32(len(marks)) || total < marks[k] {
				return
			}
			if next.CompareAndSwap(k, k+1) {
				res.RSSAt[k] = currentRSS()
			}
		}
	}}

	defs, owners := map[string]model.FieldDef{}, map[string]string{}
	for _, f := range sqlFields {
		def, ok := model.LookupField(model.Account, f)
		if !ok { // mapped with an explicit type in sqlSettings
			def = model.FieldDef{Name: f, Type: model.TypeText}
			if f == "since" {
				def.Type = model.TypeDate
			}
		}
		defs[f], owners[f] = def, "crm"
	}
	leg := engine.Leg{Name: "bench", Flow: "bench", Source: "crm", Target: "erp", Entity: model.Account, Fields: sqlFields,
		Trigger: engine.TriggerChange, Owners: owners, Defs: defs, Clean: map[string][]string{"email": {"email"}}}
	eng, q, err := newEngine(ctx, st, leg, source, erp, p.BatchSize, p.Log)
	if err != nil {
		return res, err
	}
	debug.FreeOSMemory()
	resetPeakRSS()
	start := time.Now()
	if err := syncOnce(ctx, eng, q, "bench"); err != nil {
		return res, fmt.Errorf("bench sql-engine: %w", err)
	}
	res.Elapsed = time.Since(start)
	res.PeakRSS = peakRSS()
	if got := erp.written.Load(); got != int64(p.Rows) {
		return res, fmt.Errorf("bench sql-engine: %d of %d rows written", got, p.Rows)
	}
	if err := countRows(ctx, tabs.my, dst, "", p.Rows); err != nil {
		return res, err
	}
	res.ChangesPerS = float64(p.Rows) / res.Elapsed.Seconds()

	debug.FreeOSMemory()
	reset := resetPeakRSS()
	d, err := plainCopy(ctx, tabs.pg, tabs.my, tabs.src, plain, time.Time{})
	if err != nil {
		return res, err
	}
	res.PlainPerS = float64(p.Rows) / d.Seconds()
	if reset {
		res.PlainPeakRSS = peakRSS()
	}
	return res, nil
}

// countingWrites passes everything to the connector it wraps and counts the
// records its Writes accepted, telling onWrite the total. It hides the
// wrapped connector's optional interfaces; the sql connector has none the
// engine asks a target for (WriteBatchSizer, CreateUpserter).
type countingWrites struct {
	connector.Connector
	written atomic.Int64
	onWrite func(total int64)
}

func (c *countingWrites) Write(ctx context.Context, e model.Entity, ops []connector.Op) ([]connector.Result, error) {
	res, err := c.Connector.Write(ctx, e, ops)
	var n int64
	for _, r := range res {
		if r.Err == nil {
			n++
		}
	}
	total := c.written.Add(n)
	if c.onWrite != nil {
		c.onWrite(total)
	}
	return res, err
}

// resetPeakRSS resets the process's peak resident memory (VmHWM) to the
// current one, so that peakRSS measures what follows; false where it cannot
// (not Linux).
func resetPeakRSS() bool {
	f, err := os.OpenFile("/proc/self/clear_refs", os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.WriteString("5")
	return err == nil
}
