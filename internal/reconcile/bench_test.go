package reconcile_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/engine"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/reconcile"
)

// benchSize is the records per side of BenchmarkReconcile1M:
// CONCORD_RECONCILE_N, default 1,000,000.
func benchSize(b *testing.B) int {
	if s := os.Getenv("CONCORD_RECONCILE_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("CONCORD_RECONCILE_N=%q: want a positive number", s)
		}
		return n
	}
	return 1_000_000
}

// benchSpec is accounts between a CRM (A) and an ERP (B) as the demo moves
// them: name, e-mail, phone, city and country owned by the CRM (cleaned),
// credit limit and customer number owned by the ERP.
func benchSpec() reconcile.Spec {
	f := func(name string, owner reconcile.Side, rules ...string) reconcile.Field {
		flow := "customers"
		if owner == reconcile.SideB {
			flow = "credit"
		}
		return reconcile.Field{Names: [2]string{name, name}, Clean: rules, Owner: owner, Flow: flow, Leg: flow, Conflict: engine.ConflictOwnerWins}
	}
	return reconcile.Spec{
		Entity: model.Account, Systems: [2]string{"crm", "erp"}, DefaultCountry: [2]string{"DE", "DE"},
		Fields: []reconcile.Field{
			f("city", reconcile.SideA, "trim"), f("country", reconcile.SideA, "country"), f("credit_limit", reconcile.SideB),
			f("customer_number", reconcile.SideB), f("email", reconcile.SideA, "trim", "email"), f("name", reconcile.SideA, "trim"),
			f("phone", reconcile.SideA, "phone"),
		},
	}
}

// benchCountry is a country as the CRM spells it, its code as the ERP holds
// it, and how a local phone number is written in each.
type benchCountry struct{ name, code, local, e164 string }

var benchCountries = []benchCountry{
	{"Germany", "DE", "030 %07d", "+4930%07d"}, {"France", "FR", "01 %08d", "+331%08d"},
	{"Sweden", "SE", "08-%08d", "+468%08d"}, {"Austria", "AT", "01 %07d", "+431%07d"},
	{"Switzerland", "CH", "044 %07d", "+4144%07d"}, {"Spain", "ES", "91 %07d", "+3491%07d"},
	{"Italy", "IT", "06 %08d", "+3906%08d"}, {"Poland", "PL", "(22) %07d", "+4822%07d"},
}

// benchRecord is record i of one side, as a connector would read it: the CRM
// (A) holds what people typed (padded names, mixed-case e-mails, country
// names, local phone numbers), the ERP (B) what Concord wrote there (the
// cleaned values). One pair in 1000 drifted on the name, one in 2000 on the
// credit limit; everything else agrees once cleaned.
func benchRecord(side reconcile.Side, i int, at time.Time) model.Record {
	c := benchCountries[i%len(benchCountries)]
	name := "Company " + strconv.Itoa(i) + " Handels GmbH"
	credit := decimal.New(int64(1000+i%5000), 0)
	phone := i % 10_000_000
	r := model.Record{Entity: model.Account, UpdatedAt: at, Fields: model.Fields{
		"city": model.Text("Berlin"), "customer_number": model.Text("K-" + strconv.Itoa(i)),
	}}
	if side == reconcile.SideA {
		r.ID = "a" + strconv.Itoa(i)
		r.Fields["name"] = model.Text("  " + name + " ")
		r.Fields["email"] = model.Text("Buyer" + strconv.Itoa(i) + "@Example.com")
		r.Fields["country"] = model.Text(c.name)
		r.Fields["phone"] = model.Text(fmt.Sprintf(c.local, phone))
		r.Fields["credit_limit"] = model.Money(credit, "EUR")
		return r
	}
	r.ID = "b" + strconv.Itoa(i)
	if i%1000 == 7 {
		name += " (old)"
	}
	if i%2000 == 11 {
		credit = credit.Add(decimal.New(1, -2))
	}
	r.Fields["name"] = model.Text(name)
	r.Fields["email"] = model.Text("buyer" + strconv.Itoa(i) + "@example.com")
	r.Fields["country"] = model.Text(c.code)
	r.Fields["phone"] = model.Text(fmt.Sprintf(c.e164, phone))
	r.Fields["credit_limit"] = model.Money(credit.Mul(decimal.New(100, -2)), "EUR") // 1000.00: the same amount as 1000
	return r
}

// BenchmarkReconcile1M compares N x N accounts (CONCORD_RECONCILE_N, default
// 1M): the links, then both sides fed in pages of 1000 as a connector reads
// them, then the comparison, then the differing pairs compared field by
// field. Generating the records (the "read") is not timed; ns/op is the
// compute, and cpu-s the CPU time it took on all cores. It reports the drift
// found, the heap in use at the end and the peak resident set of the process.
func BenchmarkReconcile1M(b *testing.B) {
	n := benchSize(b)
	const page = 1000
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var drift int
	var cpu float64
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		c := reconcile.NewComparer(benchSpec())
		c.Grow(n)
		for i := range n {
			if i%1000 == 500 {
				continue // unlinked on both sides
			}
			c.Link("c"+strconv.Itoa(i), "a"+strconv.Itoa(i), "b"+strconv.Itoa(i))
		}
		for _, side := range []reconcile.Side{reconcile.SideA, reconcile.SideB} {
			buf := make([]model.Record, 0, page)
			for start := 0; start < n; start += page {
				b.StopTimer()
				buf = buf[:0]
				for i := start; i < min(start+page, n); i++ {
					buf = append(buf, benchRecord(side, i, at))
				}
				b.StartTimer()
				cpu0 := cpuSeconds()
				c.Add(side, buf, nil)
				cpu += cpuSeconds() - cpu0
			}
		}
		cpu0 := cpuSeconds()
		suspects, u, compared := c.Result()
		// The pairs that differ are read again by id, as the command does
		// with connector.Get.
		var d []reconcile.Drift
		for _, sus := range suspects {
			i, _ := strconv.Atoi(sus.IDs[reconcile.SideA][1:])
			ra, rb := benchRecord(reconcile.SideA, i, at), benchRecord(reconcile.SideB, i, at)
			d = append(d, c.Diff(sus, [2]*model.Record{&ra, &rb}, [2]map[model.Entity]map[string]string{})...)
		}
		cpu += cpuSeconds() - cpu0
		b.StopTimer()
		want := countIf(n, func(i int) bool { return i%1000 == 500 })
		wantDrift := countIf(n, func(i int) bool { return i%1000 == 7 }) + countIf(n, func(i int) bool { return i%2000 == 11 })
		if compared != n-want || len(u) != 2*want || len(d) != wantDrift {
			b.Fatalf("compared %d, unlinked %d, drift %d: want %d, %d and %d", compared, len(u), len(d), n-want, 2*want, wantDrift)
		}
		drift = len(d)
		readMem(b)
		b.StartTimer()
	}
	b.ReportMetric(float64(drift), "drift")
	b.ReportMetric(cpu/float64(b.N), "cpu-s")
	b.ReportMetric(float64(heapPeak)/(1<<20), "MiB-heap")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(rss, "MiB-RSS-peak")
	}
}

// countIf counts the i in [0,n) for which f holds.
func countIf(n int, f func(int) bool) int {
	k := 0
	for i := range n {
		if f(i) {
			k++
		}
	}
	return k
}

var heapPeak uint64

// readMem notes the heap in use while the comparer is alive.
func readMem(b *testing.B) {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapPeak = max(heapPeak, ms.HeapInuse)
}

// cpuSeconds returns the user and system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSS returns the process's peak resident set in MiB (Linux), 0 when
// unknown.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}
