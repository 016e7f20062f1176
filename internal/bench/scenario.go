package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
)

// A Scenario is one measurement `concord bench --scenario NAME` runs: it
// measures Concord doing one job and, in the same run, a baseline doing the
// same work the plainest way (a raw insert, a hand-written copy, the ceiling
// an API's limits allow), so that load on the machine moves both.
type Scenario struct {
	Name    string
	Summary string
	// Needs names what the scenario needs from Env (flags or environment
	// variables), for --scenario list and for the error when it is missing.
	Needs string
	Run   func(ctx context.Context, env Env) ([]Figure, error)
}

// Env is what a scenario may use.
type Env struct {
	// Records is the size asked for with --records; 0 means the scenario's
	// own default.
	Records   int
	BatchSize int
	// Repeat runs a scenario's measurement and its baseline this many times,
	// alternately, and reports the medians, so that a change of load during
	// the run moves both (0 or 1: once).
	Repeat int
	// Stores are the engine stores to measure (sqlite, postgres).
	Stores []string
	// PostgresDSN and MySQLDSN point at servers where the scenario may create
	// (and then drops) its own schema or tables; empty when not given.
	PostgresDSN string
	MySQLDSN    string
	// Dir is a fresh directory the scenario may write into.
	Dir string
	Log *slog.Logger
	// Progress receives a line per step of a long scenario (never nil).
	Progress io.Writer
}

// Figure is one measured value next to its baseline from the same run.
type Figure struct {
	Scenario string
	Case     string  // what was measured: "backfill 100,000 rows"
	Value    float64 // Concord's figure
	Unit     string  // "changes/s", "s", "ms p99"
	// Baseline is the same work done the plainest way in the same run, in
	// the same unit; BaselineName says what it is.
	Baseline     float64
	BaselineName string
	// LowerIsBetter is true for durations and latencies.
	LowerIsBetter bool
	// Target is the target for Ratio, such as "<= 3x" (empty: none).
	Target string
	Note   string
}

// Ratio is how many times worse than its baseline the figure is (1 = as
// good, above 1 = worse, below 1 = better); 0 when there is no baseline.
func (f Figure) Ratio() float64 {
	if f.Baseline == 0 || f.Value == 0 {
		return 0
	}
	if f.LowerIsBetter {
		return f.Value / f.Baseline
	}
	return f.Baseline / f.Value
}

// Scenarios lists every scenario, in the order `--scenario all` runs them.
func Scenarios() []Scenario {
	return []Scenario{
		engineScenario(),
		hubspotScenario(),
		trytonScenario(),
		webhookScenario(),
		sqlScenario(),
		sqlEngineScenario(),
	}
}

// Lookup returns the scenario named name.
func Lookup(name string) (Scenario, bool) {
	i := slices.IndexFunc(Scenarios(), func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return Scenarios()[i], true
}

// Names returns the scenario names, comma separated, for messages.
func Names() string {
	var names []string
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// ErrMissing is returned (wrapped) by a scenario whose Needs are not met.
var ErrMissing = errors.New("missing what the scenario needs")

func missing(s, what string) error {
	return fmt.Errorf("scenario %s needs %s: %w", s, what, ErrMissing)
}

// engineScenario is Run for each store: changes/s through the real store and
// queue against the raw insert rate of the same rows.
func engineScenario() Scenario {
	return Scenario{
		Name:    "engine",
		Summary: "accounts synced from a generated source to a counting sink through the real store and queue, against the raw insert rate of the same rows",
		Needs:   "--store postgres needs --dsn or TEST_DATABASE_URL",
		Run: func(ctx context.Context, env Env) ([]Figure, error) {
			records := env.Records
			if records == 0 {
				records = 100_000
			}
			var out []Figure
			for _, s := range env.Stores {
				if s == "postgres" && env.PostgresDSN == "" {
					return out, missing("engine", "--dsn or TEST_DATABASE_URL for --store postgres")
				}
				// Each Run syncs, then inserts the same rows raw: repeated, the
				// two alternate, and the medians are compared.
				var syncs, raws []float64
				var r Result
				for k := range max(env.Repeat, 1) {
					dir, err := os.MkdirTemp(env.Dir, "engine-")
					if err != nil {
						return out, err
					}
					fmt.Fprintf(env.Progress, "engine: %d records on %s (run %d of %d)\n", records, s, k+1, max(env.Repeat, 1))
					got, err := Run(ctx, Params{Records: records, BatchSize: env.BatchSize, Store: s, DSN: env.PostgresDSN, Dir: dir, Log: env.Log})
					if err != nil {
						return out, err
					}
					if k == 0 {
						r = got // memory: the first run's (the peak RSS is the process's, raw inserts included after it)
					}
					syncs, raws = append(syncs, got.ChangesPerS), append(raws, got.RawPerS)
				}
				r.ChangesPerS, r.RawPerS = median(syncs), median(raws)
				target := ">= 50,000/s and <= 2x"
				if s == "postgres" {
					target = ">= 20,000/s and <= 2x"
				}
				runs := ""
				if env.Repeat > 1 {
					runs = fmt.Sprintf(", median of %d", env.Repeat)
				}
				out = append(out, Figure{Scenario: "engine", Case: fmt.Sprintf("%s, %d changes%s", s, records, runs),
					Value: r.ChangesPerS, Unit: "changes/s", Baseline: r.RawPerS, BaselineName: "raw insert of the same rows",
					Target: target, Note: fmt.Sprintf("RSS %s/%s/%s MiB at 10/50/100 %%, peak %s MiB",
						mib(r.RSSAt[0]), mib(r.RSSAt[1]), mib(r.RSSAt[2]), mib(r.PeakRSS))})
			}
			return out, nil
		},
	}
}

// median returns the middle value of xs (the mean of the two middle ones for
// an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func mib(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(b)/(1<<20))
}
