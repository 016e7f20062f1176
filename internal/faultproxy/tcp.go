package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// TCPFaults says what the TCP layer injects. Toxiproxy draws each fault per
// connection (when the connection opens, and again for open connections when
// the faults change), so a rate is a share of connections, not of requests.
// The zero value injects nothing.
type TCPFaults struct {
	// Latency delays every chunk of an answer by Latency ± Jitter, on a
	// LatencyRate share of the connections.
	Latency, Jitter time.Duration
	LatencyRate     float64
	// ResetRate is the share of connections reset by peer (RST) as soon as the
	// client sends, after ResetAfter: the request is lost.
	ResetRate  float64
	ResetAfter time.Duration
	// StallRate is the share of connections that stall: what the client sends
	// is dropped, no answer comes, and the connection is closed after Stall
	// (default 2s).
	StallRate float64
	Stall     time.Duration
}

// Validate reports every problem of f.
func (f TCPFaults) Validate() error {
	var errs []error
	for name, r := range map[string]float64{"latency rate": f.LatencyRate, "reset rate": f.ResetRate, "stall rate": f.StallRate} {
		if r < 0 || r > 1 || math.IsNaN(r) {
			errs = append(errs, fmt.Errorf("%s %v: want 0 to 1", name, r))
		}
	}
	if f.Latency < 0 || f.Jitter < 0 || f.ResetAfter < 0 || f.Stall < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	return errors.Join(errs...)
}

// TCP is the TCP fault layer: a toxiproxy proxy listening on 127.0.0.1 in
// front of one upstream address. It is safe for concurrent use.
type TCP struct {
	mu    sync.Mutex
	proxy *toxiproxy.Proxy
}

// NewTCP starts a toxiproxy proxy on a free port of 127.0.0.1 in front of
// upstream (host:port), injecting nothing until Inject.
func NewTCP(name, upstream string) (*TCP, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start tcp proxy %s: %w", name, err)
	}
	return &TCP{proxy: p}, nil
}

// Addr is the proxy's listen address (host:port).
func (t *TCP) Addr() string {
	t.proxy.Lock()
	defer t.proxy.Unlock()
	return t.proxy.Listen
}

// toxic is the JSON toxiproxy reads a toxic from.
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// Inject replaces the faults in force with f, on open connections too.
func (t *TCP) Inject(f TCPFaults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proxy.Toxics.ResetToxics(context.Background())
	if f.Stall <= 0 {
		f.Stall = 2 * time.Second
	}
	var add []toxic
	if f.LatencyRate > 0 && f.Latency > 0 {
		add = append(add, toxic{Name: "latency", Type: "latency", Stream: "downstream", Toxicity: f.LatencyRate,
			Attributes: map[string]any{"latency": f.Latency.Milliseconds(), "jitter": f.Jitter.Milliseconds()}})
	}
	if f.ResetRate > 0 {
		add = append(add, toxic{Name: "reset", Type: "reset_peer", Stream: "upstream", Toxicity: f.ResetRate,
			Attributes: map[string]any{"timeout": f.ResetAfter.Milliseconds()}})
	}
	if f.StallRate > 0 {
		add = append(add, toxic{Name: "stall", Type: "timeout", Stream: "upstream", Toxicity: f.StallRate,
			Attributes: map[string]any{"timeout": f.Stall.Milliseconds()}})
	}
	for _, x := range add {
		body, err := json.Marshal(x)
		if err != nil {
			return fmt.Errorf("encode toxic %s: %w", x.Name, err)
		}
		if _, err := t.proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("add toxic %s: %w", x.Name, err)
		}
	}
	return nil
}

// Heal removes every fault, from open connections too.
func (t *TCP) Heal() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proxy.Toxics.ResetToxics(context.Background())
}

// Close stops the proxy and closes its connections.
func (t *TCP) Close() { t.proxy.Stop() }
