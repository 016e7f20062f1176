package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// chromiumPath finds Debian's chromium (scripts/ci installs it). Without it
// the browser tests fail under CI and are skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("ignore-certificate-errors", true), // the test server's own certificate
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(bctx)) // start it, without the timeout
	return ctx
}

// shots saves screenshots under the test's temp dir, and also under
// $CONCORD_SCREENSHOTS when set (docs/console.md's pictures come from there).
type shots struct {
	t    *testing.T
	dirs []string
}

func newShots(t *testing.T) *shots {
	s := &shots{t: t, dirs: []string{t.TempDir()}}
	if d := os.Getenv("CONCORD_SCREENSHOTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		s.dirs = append(s.dirs, d)
	}
	return s
}

func (s *shots) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		require.Greater(s.t, len(png), 5000, "screenshot %s is empty", name)
		for _, d := range s.dirs {
			if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// a11yJS checks a page for accessibility basics and returns the problems:
// form fields without a label, main elements whose text contrast is under
// 4.5:1 (WCAG AA), and interactive elements taken out of the tab order.
const a11yJS = `(() => {
  const problems = [];
  const fields = document.querySelectorAll('input:not([type=hidden]), select, textarea');
  for (const f of fields) {
    const labelled = (f.id && document.querySelector('label[for="' + f.id + '"]')) || f.getAttribute('aria-label') || f.closest('label');
    if (!labelled) problems.push('no label: ' + (f.name || f.outerHTML.slice(0, 60)));
  }
  const rgb = s => { const m = s.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bgOf = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const main = document.querySelectorAll('h1, h2, p, th, td, a, button, label, .badge, nav a, .state, .error, .done');
  for (const el of main) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(bgOf(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) problems.push('contrast ' + ratio.toFixed(2) + ': ' + el.tagName + ' ' + el.textContent.trim().slice(0, 40));
  }
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')) {
    if (el.tabIndex < 0) problems.push('not reachable by keyboard: ' + el.outerHTML.slice(0, 60));
  }
  if (!document.documentElement.lang) problems.push('no lang on <html>');
  if (!document.querySelector('main')) problems.push('no <main>');
  return problems;
})()`

func checkA11y(t *testing.T, page string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		problems, err := chromedp.Evaluate[[]string](a11yJS)(ctx, tg)
		if err != nil {
			return err
		}
		require.Empty(t, problems, "accessibility of %s", page)
		return nil
	})
}

// tabTo presses Tab until the element with id has the focus: the action is
// reachable from the keyboard.
func tabTo(t *testing.T, id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for range 80 {
			focused, err := chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`)(ctx, tg)
			if err != nil {
				return err
			}
			if focused == id {
				return nil
			}
			if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tg); err != nil {
				return err
			}
		}
		t.Fatalf("#%s never got the focus by Tab", id)
		return nil
	})
}

// TestBrowser_FixAFailedHandoff drives the console in Chromium as an
// operator would: sign in with the keyboard, find the failed record on the
// overview, correct it on its dead-letter page and retry, see it synced,
// then accept a candidate match. Every page is checked for accessibility
// basics and photographed, on a laptop and on a phone.
func TestBrowser_FixAFailedHandoff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.seed()
	w.erp.Put(model.Record{Entity: model.Account, ID: "e77", Fields: model.Fields{"name": model.Text("Berglunds snabbköp AB")}})
	w.crm.Put(model.Record{Entity: model.Account, ID: "c77", Fields: model.Fields{"name": model.Text("Berglunds snabbkop")}})
	snap := func(id, name string) []byte {
		return []byte(fmt.Sprintf(`{"entity":"account","id":%q,"fields":{"name":{"k":"text","s":%q}}}`, id, name))
	}
	require.NoError(t, w.st.PutReviews(w.ctx, []store.Review{{Flow: "customers", System: "crm", Entity: model.Account, ExternalID: "c77",
		TargetSystem: "erp", TargetEntity: model.Account, TargetID: "e77", Score: 0.86,
		Fields:   []byte(`[{"field":"name","a":"berglunds snabbkop","b":"berglunds snabbkop ab","score":0.86}]`),
		Snapshot: snap("c77", "Berglunds snabbkop"), Target: snap("e77", "Berglunds snabbköp AB"), State: store.ReviewPending}}))
	workCtx, stop := context.WithCancel(t.Context())
	defer stop()
	go w.work(workCtx)

	letters, err := w.st.ListDeadLetters(w.ctx, nil)
	require.NoError(t, err)
	require.Len(t, letters, 1)
	letter := letters[0].ID

	ctx := browser(t)
	sh := newShots(t)
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		return v
	}
	visit := func(path, wait, name string) {
		t.Helper()
		do(chromedp.Navigate(w.srv.URL+path), chromedp.WaitVisible(chromedp.CSS(wait)), checkA11y(t, name), sh.take(name))
	}

	do(chromedp.Navigate(w.srv.URL+"/console/"), chromedp.WaitVisible(chromedp.ID("name")))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc, w.srv.URL+"/console/login"), "the console asks to sign in first: %s", loc)
	do(checkA11y(t, "sign-in"), sh.take("login"),
		// Keyboard only: the name field has the focus, Tab to the password,
		// Enter signs in.
		chromedp.SendKeys(chromedp.ID("name"), "alice"),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(alicePassword),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("flows-h")),
		chromedp.WaitVisible(chromedp.CSS(".uplot")), // the charts drew under the CSP
	)
	counts := text(".counts")
	require.Contains(t, counts, "1 dead letters")
	require.Contains(t, counts, "1 quarantined")
	require.Contains(t, counts, "1 to review")
	do(checkA11y(t, "overview"), sh.take("overview"))

	// The failed record, from the overview's flow row to its letter.
	letterLink := fmt.Sprintf(`a[href="/console/dead-letters/%d"]`, letter)
	do(chromedp.Click(chromedp.CSS(`a[href="/console/dead-letters?flow=customers"]`)),
		chromedp.WaitVisible(chromedp.CSS(letterLink)),
		checkA11y(t, "dead letters"), sh.take("dead-letters"),
		chromedp.Click(chromedp.CSS(letterLink)),
		chromedp.WaitVisible(chromedp.ID("set-country")),
		checkA11y(t, "dead letter"), sh.take("dead-letter"))
	require.Contains(t, text(".error"), `country "Atlantis" is not a country the ERP knows`)

	// Correct the country and retry, from the keyboard.
	do(chromedp.SetValue(chromedp.ID("set-country"), "GB"),
		chromedp.Focus(chromedp.ID("set-name")),
		tabTo(t, "retry"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".done")))
	require.Contains(t, text(".done"), fmt.Sprintf("Dead letter %d re-queued", letter))
	require.Eventually(t, func() bool {
		dl, err := w.st.GetDeadLetter(w.ctx, letter)
		return err == nil && !dl.Open()
	}, 20*time.Second, 50*time.Millisecond, "the worker applies the retry and the letter closes")
	var countries []string
	for _, r := range w.erp.All(model.Account) {
		countries = append(countries, r.Fields["country"].Str)
	}
	require.Contains(t, countries, "GB")
	do(chromedp.Navigate(w.srv.URL+"/console/"), chromedp.WaitVisible(chromedp.ID("flows-h")))
	require.Contains(t, text(".counts"), "0 dead letters")

	// The events page shows the fix with the operator's name; an event's page.
	visit("/console/events?outcome=operator", "#results table", "events")
	require.Contains(t, text("#results"), fmt.Sprintf("alice: retried dead letter %d with country corrected", letter))
	visit("/console/events?outcome=created", "#results tbody th a", "events-created")
	do(chromedp.Click(chromedp.CSS("#results tbody th a")), chromedp.WaitVisible(chromedp.CSS(".facts")),
		checkA11y(t, "event"), sh.take("event"))
	require.Contains(t, text("main"), "What was written")

	// Accept the candidate match.
	visit("/console/reviews", "article.review", "review")
	do(chromedp.Click(chromedp.CSS(`button[aria-label^="Accept review"]`)), chromedp.WaitVisible(chromedp.CSS(".done")))
	require.Contains(t, text(".done"), "accepted")
	rs, err := w.st.ListReviews(w.ctx, &store.ListReviewsParams{States: []store.ReviewState{store.ReviewAccepted}})
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, "e77", rs[0].TargetID)

	// The quarantine, the links, the ownership matrix, and drift.
	visit("/console/quarantine", "table", "quarantine")
	visit("/console/links?record=c77", "section.group", "links")
	visit("/console/ownership", "table.matrix", "ownership")
	visit("/console/drift", "h1", "drift")

	// On a phone: nothing wider than the screen but the tables, which scroll
	// in their own box.
	do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(w.srv.URL+"/console/"), chromedp.WaitVisible(chromedp.ID("flows-h")), sh.take("overview-phone"))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	require.NoError(t, err)
	require.False(t, overflow, "the overview fits a phone's width")
}
