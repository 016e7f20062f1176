package health

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ReadyHandler answers GET /readyz from c's latest snapshot: 200 "ready", or
// 503 "not ready" with the reasons one per line; with Accept:
// application/json the whole snapshot as JSON, with the same status.
func ReadyHandler(c *Collector) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := c.Snapshot(r.Context())
		status := http.StatusOK
		if !snap.Ready {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Cache-Control", "no-store")
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(snap)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		if snap.Ready {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		var b strings.Builder
		b.WriteString("not ready\n")
		for _, reason := range snap.Reasons {
			b.WriteString(oneLine(reason))
			b.WriteByte('\n')
		}
		_, _ = w.Write([]byte(b.String()))
	})
}

// oneLine keeps a reason on one line: error text from systems may hold line
// breaks.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
