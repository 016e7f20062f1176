package match

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/concord-sync/concord/internal/model"
)

// benchAccounts generates n ERP accounts and a CRM of n accounts of which
// 70% are corrupted copies of ERP accounts (see corrupt) and 30% other
// companies, in a shuffled order.
func benchAccounts(seed uint64, n int) labelled {
	r := rand.New(rand.NewPCG(seed, 4))
	set := labelled{truth: map[string]string{}}
	for i := range n {
		set.erp = append(set.erp, genCompany(r, fmt.Sprintf("E%07d", i)))
	}
	shared := n * 7 / 10
	perm := r.Perm(n)
	for i := range n {
		id := fmt.Sprintf("C%07d", i)
		if i < shared {
			src := set.erp[perm[i]]
			set.crm = append(set.crm, corrupt(r, src, id))
			set.truth[id] = src.ID
			continue
		}
		set.crm = append(set.crm, genCompany(r, id))
	}
	r.Shuffle(len(set.crm), func(i, j int) { set.crm[i], set.crm[j] = set.crm[j], set.crm[i] })
	return set
}

// BenchmarkMatch100k matches 100,000 CRM accounts against an index of
// 100,000 ERP accounts (building the index included), on all CPUs.
func BenchmarkMatch100k(b *testing.B) {
	n := 100_000
	if s := os.Getenv("CONCORD_MATCH_BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	rules, _ := DefaultRules(model.Account)
	set := benchAccounts(1, n)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	})
	cpu0 := cpuSeconds()
	b.ReportAllocs()
	b.ResetTimer()
	var pairs []Pair
	for b.Loop() {
		pairs = MatchAll(rules, set.crm, set.erp)
	}
	b.StopTimer()
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	close(stop)
	wg.Wait()

	var tp, fp int
	for _, p := range pairs {
		if rules.Decide(p.Score) != Link {
			continue
		}
		if set.truth[p.A] == p.ID {
			tp++
		} else {
			fp++
		}
	}
	prec := float64(tp) / float64(max(1, tp+fp))
	rec := float64(tp) / float64(len(set.truth))
	b.ReportMetric(prec, "precision")
	b.ReportMetric(rec, "recall")
	b.ReportMetric(2*prec*rec/(prec+rec), "F1")
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "MiB-heap-peak")
	b.ReportMetric(float64(peak.Load())/(1<<20), "MiB-heap-total")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(rss, "MiB-RSS-peak")
	}
}

// cpuSeconds returns the user and system CPU time of the process so far:
// on a machine shared with other work, wall time alone says little.
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
