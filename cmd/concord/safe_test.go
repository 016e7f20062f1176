package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/examples/quickstart"
	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/report"
	"github.com/concord-sync/concord/internal/store"
	"github.com/concord-sync/concord/internal/store/sqlitestore"
	"github.com/concord-sync/concord/internal/store/storetest"
)

// hostile is a value a system could send: an OSC title change, a screen clear,
// a colour, a NUL, a BEL, a C1 CSI, a bidi override and a newline.
const hostile = "Acme\x1b]0;pwned\x07\x1b[2J\x1b[31m\x00\u009b\u202e\nfake line"

// requireNoControls fails when out holds a character a terminal acts on; tabs
// and newlines are the layout's own.
func requireNoControls(t *testing.T, out string) {
	t.Helper()
	for _, r := range out {
		if r == '\t' || r == '\n' {
			continue
		}
		require.False(t, unsafeRune(r), "raw %U reached the terminal in:\n%s", r, out)
	}
	require.NotContains(t, out, "\nfake line", "a value must not start a line of its own")
}

func TestSafeText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, text, cell, msg string }{
		{"plain Ünïcode — ok", "plain Ünïcode — ok", "plain Ünïcode — ok", "plain Ünïcode — ok"},
		{"a\x1b[31mb", `a\x1b[31mb`, `a\x1b[31mb`, `a\x1b[31mb`},
		{"nul\x00del\x7f", `nul\x00del\x7f`, `nul\x00del\x7f`, `nul\x00del\x7f`},
		{"c1\u009bx bidi\u202ey", `c1\u009bx bidi\u202ey`, `c1\u009bx bidi\u202ey`, `c1\u009bx bidi\u202ey`},
		{"tab\tnl\ncr\r", `tab\tnl\ncr\r`, "tab\t" + `nl\ncr\r`, "tab\tnl\n" + `cr\r`},
		{"bad\xffutf8", `bad\xffutf8`, `bad\xffutf8`, `bad\xffutf8`},
		{"keep \ufffd replacement", "keep \ufffd replacement", "keep \ufffd replacement", "keep \ufffd replacement"},
	} {
		require.Equal(t, tc.text, safeText(tc.in), "%q", tc.in)
		require.Equal(t, tc.cell, safeCell(tc.in), "%q", tc.in)
		require.Equal(t, tc.msg, safeMessage(tc.in), "%q", tc.in)
	}
}

func TestSafeJSON(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, writeJSON(&buf, map[string]any{"v": hostile, "raw": json.RawMessage("{\"x\":\"a\u009b\u202e\x7fb\"}")}))
	requireNoControls(t, buf.String())
	var got struct {
		V   string          `json:"v"`
		Raw json.RawMessage `json:"raw"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got), "still JSON")
	require.Equal(t, hostile, got.V, "and the same values")
	var raw map[string]string
	require.NoError(t, json.Unmarshal(got.Raw, &raw))
	require.Equal(t, "a\u009b\u202e\x7fb", raw["x"])
}

func TestErrorLine(t *testing.T) {
	t.Parallel()
	line := errorLine(errors.New("open system crm: " + hostile + "\nsecond problem"))
	require.Equal(t, `concord: open system crm: Acme\x1b]0;pwned\x07\x1b[2J\x1b[31m\x00\u009b\u202e`+"\nfake line\nsecond problem", line)
}

// TestCLI_ListingsEscapeControls stores records whose values hold escape
// sequences and a NUL, and lists them with every listing command, as tables
// and as JSON.
func TestCLI_ListingsEscapeControls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, quickstart.Setup(ctx, dir, false))
	cfg := filepath.Join(dir, "concord.yaml")
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "concord.db"), storetest.Logger(t))
	require.NoError(t, err)
	now := time.Now()
	_, err = st.InsertEvents(ctx, []store.Event{{Flow: "customers", Entity: model.Account, SourceSystem: "crm", SourceID: hostile,
		TargetSystem: "erp", Outcome: store.OutcomeFailed, Error: hostile, StartedAt: now, Attempt: 1,
		Snapshot: []byte(`{"name":"a\u009b\u202eb"}`)}})
	require.NoError(t, err)
	require.NoError(t, st.PutLinks(ctx, &store.PutLinksParams{Links: []store.Link{{Entity: model.Account, ConcordID: "c1", System: "crm", ExternalID: hostile, CreatedAt: now, UpdatedAt: now}}}))
	require.NoError(t, st.Quarantine(ctx, []store.QuarantineEntry{{Flow: "customers", System: "crm", Entity: model.Account, ExternalID: hostile, Field: "name", Reason: hostile, CreatedAt: now}}))
	_, err = st.InsertDeadLetters(ctx, []store.DeadLetter{{Flow: "customers", Entity: model.Account, System: "crm", ExternalID: hostile, Reason: hostile, Attempts: 5, CreatedAt: now}})
	require.NoError(t, err)
	require.NoError(t, st.Close())

	for _, args := range [][]string{
		{"events"}, {"events", "--json"}, {"events", "show", "1"},
		{"links"}, {"links", "--json"},
		{"quarantine"}, {"quarantine", "--json"},
		{"deadletter", "list"}, {"deadletter", "list", "--json"},
	} {
		out, code := run(t, append(args, "--config", cfg)...)
		require.Equal(t, exitOK, code, "%v: %s", args, out)
		requireNoControls(t, out)
		if args[len(args)-1] == "--json" || args[1%len(args)] == "show" {
			require.Contains(t, out, `\u001b[31m`, "%v", args)
		} else {
			require.Contains(t, out, `Acme\x1b]0;pwned\x07\x1b[2J\x1b[31m\x00\u009b\u202e\nfake line`, "%v", args)
		}
	}
}

func TestPrintPlans_EscapesControls(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	printPlans(&buf, []*engine.RecordPlan{
		{Leg: "customers", Action: engine.ActionQuarantine, Source: model.Record{Entity: model.Account, ID: hostile}, Field: "name\x1b[1m", Reason: hostile},
		{Leg: "customers", Action: engine.ActionUpdate, Source: model.Record{Entity: model.Account, ID: "1"}, TargetID: hostile,
			Changes: []engine.Change{{Field: "name", From: model.Text("old"), To: model.Text(hostile)}}},
	}, true)
	out := buf.String()
	requireNoControls(t, out)
	require.Contains(t, out, `account Acme\x1b]0;pwned`)
	require.Contains(t, out, `name\x1b[1m: Acme\x1b]0;pwned`)
	require.True(t, strings.HasSuffix(out, "(nothing written)\n"))
}

// TestSafeResult: a report's text cells reach a terminal table escaped;
// numbers and NULLs are left as they are.
func TestSafeResult(t *testing.T) {
	t.Parallel()
	res := &report.Result{Columns: []string{"client", "revenue"}, Rows: [][]any{{"Evil\x1b[2JCorp\u202e", "900"}, {nil, int64(3)}}}
	got := safeResult(res)
	require.Equal(t, `Evil\x1b[2JCorp\u202e`, got.Rows[0][0])
	require.Equal(t, "900", got.Rows[0][1])
	require.Nil(t, got.Rows[1][0])
	require.Equal(t, int64(3), got.Rows[1][1])
	require.Equal(t, "Evil\x1b[2JCorp\u202e", res.Rows[0][0], "the result itself is not changed")
}
