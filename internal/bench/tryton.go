package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	"github.com/concord-sync/concord/internal/model"
)

// trytonPerCall is how many parties one create call carries on both sides: the
// connector's default batch_size and the plain client's batch.
const trytonPerCall = 50

// trytonNeeds is what the tryton scenario needs, for --scenario list and the
// error when it is missing.
const trytonNeeds = "TRYTON_URL, TRYTON_CLONE_CMD and TRYTON_DROP_CMD (export what `scripts/tryton.sh env` prints; TRYTON_USER and TRYTON_PASSWORD default to concord and Sync4Concord!)"

// trytonScenario creates parties through the tryton connector and through a
// plain batched JSON-RPC client, each into a database it cloned for itself.
func trytonScenario() Scenario {
	return Scenario{
		Name: "tryton",
		Summary: fmt.Sprintf("parties created through the tryton connector against a plain batched JSON-RPC client (%d per call) on the same server, "+
			"each side into a fresh clone of the template that the scenario makes and drops (default 1,000 parties a side)", trytonPerCall),
		Needs: trytonNeeds,
		Run: func(ctx context.Context, env Env) ([]Figure, error) {
			p, err := trytonParamsFrom(os.Getenv)
			if err != nil {
				return nil, err
			}
			p.Records = env.Records
			if p.Records == 0 {
				p.Records = 1_000
			}
			p.Log = env.Log
			runs := max(env.Repeat, 1)
			var results []trytonResult
			for k := range runs {
				fmt.Fprintf(env.Progress, "tryton: %d parties per side on %s, run %d of %d (cloning two databases)\n", p.Records, p.URL, k+1, runs)
				r, err := runTryton(ctx, p)
				if err != nil {
					return nil, err
				}
				results = append(results, r)
			}
			return []Figure{trytonFigure(results)}, nil
		},
	}
}

// trytonFigure compares the connector's rate with the plain client's: the
// medians of the runs' (each run interleaves the two).
func trytonFigure(runs []trytonResult) Figure {
	var conn, plain []float64
	var each []string
	for _, r := range runs {
		conn, plain = append(conn, r.ConnectorPerS), append(plain, r.PlainPerS)
		each = append(each, fmt.Sprintf("%.0f/%.0f", r.ConnectorPerS, r.PlainPerS))
	}
	f := Figure{Scenario: "tryton", Case: fmt.Sprintf("%d party creates, %d per call", runs[0].Records, trytonPerCall),
		Value: median(conn), Unit: "parties/s", Baseline: median(plain),
		BaselineName: fmt.Sprintf("plain JSON-RPC client, %d per call", trytonPerCall),
		Target:       ">= 90 % of the plain client (<= 1.11x)",
		Note:         "each side in its own fresh clone, calls interleaved, each side first in turn"}
	if len(runs) > 1 {
		f.Case += fmt.Sprintf(", medians of %d runs", len(runs))
		f.Note += "; the runs' connector/plain parties/s " + strings.Join(each, ", ")
	} else {
		f.Note += fmt.Sprintf("; connector %.1f s, plain %.1f s", runs[0].Connector.Seconds(), runs[0].Plain.Seconds())
	}
	return f
}

// trytonParams configure one Tryton run.
type trytonParams struct {
	URL, User, Password string
	// CloneCmd and DropCmd are commands that, given a database name as their
	// last argument, copy the template to it and delete it
	// (`bash scripts/tryton.sh clone|drop`).
	CloneCmd, DropCmd []string
	Records           int
	Log               *slog.Logger
}

// trytonParamsFrom reads the server and the clone commands from the
// environment variables `scripts/tryton.sh env` prints; missing ones are
// ErrMissing.
func trytonParamsFrom(getenv func(string) string) (trytonParams, error) {
	p := trytonParams{
		URL:      strings.TrimRight(getenv("TRYTON_URL"), "/"),
		User:     getenv("TRYTON_USER"),
		Password: getenv("TRYTON_PASSWORD"),
		CloneCmd: strings.Fields(strings.Trim(strings.TrimSpace(getenv("TRYTON_CLONE_CMD")), `"'`)),
		DropCmd:  strings.Fields(strings.Trim(strings.TrimSpace(getenv("TRYTON_DROP_CMD")), `"'`)),
	}
	if p.User == "" {
		p.User = "concord"
	}
	if p.Password == "" {
		p.Password = "Sync4Concord!"
	}
	if p.URL == "" || len(p.CloneCmd) == 0 || len(p.DropCmd) == 0 {
		return p, missing("tryton", trytonNeeds)
	}
	return p, nil
}

// trytonResult is what one Tryton run measured.
type trytonResult struct {
	Records int
	// Databases are the two databases the run cloned (and dropped).
	Databases []string
	// Connector and Plain are the time each side spent in its create calls.
	Connector, Plain         time.Duration
	ConnectorPerS, PlainPerS float64
}

// runTryton clones two databases from the template (under the exclusive
// Tryton lock the test suites share, since trytond loading a new database
// breaks concurrent requests), then, under the shared lock, creates p.Records
// parties in each: through the connector, opened through the registry, in
// one, and through a plain client in the other, a call of each in turn so that
// load on the machine falls on both. It counts the parties each database then
// holds and drops both databases, whatever happened. It writes into no
// database it did not clone.
func runTryton(ctx context.Context, p trytonParams) (res trytonResult, err error) {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	res.Records = p.Records
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "concord-tryton.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return res, fmt.Errorf("tryton lock: %w", err)
	}
	defer lock.Close() // releases the lock
	if err := flock(lock, true); err != nil {
		return res, fmt.Errorf("tryton lock: %w", err)
	}
	var made []string
	defer func() {
		for _, db := range made {
			if out, derr := runCmd(context.WithoutCancel(ctx), p.DropCmd, db); derr != nil {
				err = errors.Join(err, fmt.Errorf("drop tryton database %s: %w: %s", db, derr, out))
			}
		}
	}()
	var sess [2]*rpcSession
	for i, side := range []string{"conn", "plain"} {
		db, err := trytonDBName(side)
		if err != nil {
			return res, err
		}
		if out, err := runCmd(ctx, p.CloneCmd, db); err != nil {
			return res, fmt.Errorf("clone tryton database %s: %w: %s", db, err, out)
		}
		made = append(made, db)
		res.Databases = append(res.Databases, db)
		// Log in once now: trytond loads the new database's pool on its
		// first request, which must not overlap other requests.
		if sess[i], err = rpcLogin(ctx, p.URL, db, p.User, p.Password); err != nil {
			return res, fmt.Errorf("tryton database %s: %w", db, err)
		}
	}
	if err := flock(lock, false); err != nil {
		return res, fmt.Errorf("tryton lock: %w", err)
	}
	connDB, plain := made[0], sess[1]

	reg := all.Registry(all.Deps{})
	spec, ok := reg.Lookup("tryton")
	if !ok {
		return res, errors.New("tryton scenario: no tryton connector in the registry")
	}
	settings := map[string]any{"url": p.URL, "database": connDB, "username": p.User, "password": p.Password, "batch_size": trytonPerCall}
	if errs := spec.Validate(settings); len(errs) > 0 {
		return res, fmt.Errorf("tryton scenario: settings: %w", errors.Join(errs...))
	}
	erp, err := spec.Open(ctx, connector.OpenParams{System: "erp", Settings: settings, Logger: p.Log.With("system", "erp")})
	if err != nil {
		return res, fmt.Errorf("tryton scenario: %w", err)
	}
	defer erp.Close(context.WithoutCancel(ctx))

	// Parties created before the run (the company's, the employee's).
	var before [2]int64
	for i, s := range sess {
		if before[i], err = s.countParties(ctx); err != nil {
			return res, err
		}
	}
	for from := 0; from < p.Records; from += trytonPerCall {
		n := min(trytonPerCall, p.Records-from)
		ops := make([]connector.Op, n)
		vals := make([]map[string]any, n)
		for j := range n {
			k := from + j
			ops[j] = connector.Op{Kind: connector.OpCreate, LinkKey: fmt.Sprintf("bench-%d", k), Fields: model.Fields{
				"name": model.Text(fmt.Sprintf("Bench %d", k)), "email": model.Text(fmt.Sprintf("b%d@bench.example", k)),
				"phone": model.Text("+15550000"), "street": model.Text("1 Bench St"), "city": model.Text("Benchville"), "zip": model.Text("1000")}}
			vals[j] = map[string]any{"name": fmt.Sprintf("Plain %d", k),
				"addresses": []any{[]any{"create", []any{map[string]any{"street": "1 Bench St", "city": "Benchville", "postal_code": "1000"}}}},
				"contact_mechanisms": []any{[]any{"create", []any{map[string]any{"type": "email", "value": fmt.Sprintf("p%d@bench.example", k)},
					map[string]any{"type": "phone", "value": "+15550000"}}}},
				"identifiers": []any{[]any{"create", []any{map[string]any{"code": fmt.Sprintf("plain-%d", k)}}}}}
		}
		viaConnector := func() error {
			start := time.Now()
			results, err := erp.Write(ctx, model.Account, ops)
			res.Connector += time.Since(start)
			if err != nil {
				return fmt.Errorf("tryton scenario: connector create: %w", err)
			}
			for _, r := range results {
				if r.Err != nil {
					return fmt.Errorf("tryton scenario: connector create: %w", r.Err)
				}
			}
			return nil
		}
		viaPlain := func() error {
			start := time.Now()
			var ids []int64
			err := plain.call(ctx, "model.party.party.create", []any{vals, plain.context}, &ids)
			res.Plain += time.Since(start)
			if err != nil {
				return fmt.Errorf("tryton scenario: plain create: %w", err)
			}
			if len(ids) != n {
				return fmt.Errorf("tryton scenario: plain create of %d parties returned %d ids", n, len(ids))
			}
			return nil
		}
		// Each side goes first every other round, so that neither gains from
		// following the other (a warm server, a checkpoint just written).
		first, second := viaConnector, viaPlain
		if (from/trytonPerCall)%2 == 1 {
			first, second = viaPlain, viaConnector
		}
		if err := first(); err != nil {
			return res, err
		}
		if err := second(); err != nil {
			return res, err
		}
	}
	for i, s := range sess {
		after, err := s.countParties(ctx)
		if err != nil {
			return res, err
		}
		if got := after - before[i]; got != int64(p.Records) {
			return res, fmt.Errorf("tryton scenario: database %s holds %d new parties, want %d", made[i], got, p.Records)
		}
	}
	res.ConnectorPerS = float64(p.Records) / res.Connector.Seconds()
	res.PlainPerS = float64(p.Records) / res.Plain.Seconds()
	return res, nil
}

// trytonDBName is a fresh database name: bench_SIDE_ and 16 random hex digits.
func trytonDBName(side string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "bench_" + side + "_" + hex.EncodeToString(b[:]), nil
}

func runCmd(ctx context.Context, cmd []string, arg string) ([]byte, error) {
	args := append(cmd[1:len(cmd):len(cmd)], arg)
	return exec.CommandContext(ctx, cmd[0], args...).CombinedOutput()
}

// rpcSession is the plain client: net/http and encoding/json, one session,
// no retries.
type rpcSession struct {
	url, auth string
	context   map[string]any
}

// rpcLogin logs in to db and loads the user's preferences as the context of
// the session's calls.
func rpcLogin(ctx context.Context, url, db, user, password string) (*rpcSession, error) {
	s := &rpcSession{url: url + "/" + db + "/"}
	var login []any
	if err := s.call(ctx, "common.db.login", []any{user, map[string]any{"password": password}, "en"}, &login); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if len(login) != 2 {
		return nil, fmt.Errorf("login: answer %v", login)
	}
	s.auth = "Session " + base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s:%v:%v", user, login[0], login[1]))
	if err := s.call(ctx, "model.res.user.get_preferences", []any{true, map[string]any{}}, &s.context); err != nil {
		return nil, fmt.Errorf("preferences: %w", err)
	}
	return s, nil
}

func (s *rpcSession) countParties(ctx context.Context) (int64, error) {
	var n int64
	if err := s.call(ctx, "model.party.party.search_count", []any{[]any{}, s.context}, &n); err != nil {
		return 0, fmt.Errorf("count parties: %w", err)
	}
	return n, nil
}

func (s *rpcSession) call(ctx context.Context, method string, params []any, out any) error {
	body, err := json.Marshal(map[string]any{"id": 1, "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: http status %d", method, resp.StatusCode)
	}
	var answer struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if len(answer.Error) > 0 && string(answer.Error) != "null" {
		return fmt.Errorf("%s: %s", method, firstLineOf(string(answer.Error)))
	}
	if err := json.Unmarshal(answer.Result, out); err != nil {
		return fmt.Errorf("%s: result: %w", method, err)
	}
	return nil
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
