package metrics

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-sync/concord/internal/connector"
)

var (
	descWebhookDeliveries = prometheus.NewDesc("concord_webhook_deliveries_total",
		"Webhook deliveries received per system, by result: accepted, forged (bad or missing signature), stale (timestamp too old), malformed (unreadable), failed (could not be stored; the sender retries).",
		[]string{labelSystem, labelResult}, nil)
	descWebhookEvents = prometheus.NewDesc("concord_webhook_events_total",
		"Events in accepted webhook deliveries per system, by result: queued, duplicate (delivered again, ignored), unrouted (stored and skipped: no flow reads them).",
		[]string{labelSystem, labelResult}, nil)
	descRateLimitWaits = prometheus.NewDesc("concord_rate_limit_waits_total",
		"Requests to a system that its rate limiter held back until the budget allowed them.",
		[]string{labelSystem}, nil)
	descRateLimitWaited = prometheus.NewDesc("concord_rate_limit_wait_seconds_total",
		"Total time requests to a system waited for its rate limiter.",
		[]string{labelSystem}, nil)
)

// webhookCollector reads the webhook receiver's counters at each scrape.
type webhookCollector struct{ m *Metrics }

// Describe implements prometheus.Collector.
func (c *webhookCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descWebhookDeliveries
	ch <- descWebhookEvents
}

// Collect implements prometheus.Collector.
func (c *webhookCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	w := c.m.webhooks
	c.m.mu.Unlock()
	if w == nil {
		return
	}
	counter := func(d *prometheus.Desc, v int64, system, result string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), system, result)
	}
	for _, s := range w.Stats() {
		counter(descWebhookDeliveries, s.Deliveries, s.System, "accepted")
		counter(descWebhookDeliveries, s.Forged, s.System, "forged")
		counter(descWebhookDeliveries, s.Stale, s.System, "stale")
		counter(descWebhookDeliveries, s.Malformed, s.System, "malformed")
		counter(descWebhookDeliveries, s.Failed, s.System, "failed")
		counter(descWebhookEvents, s.Events, s.System, "queued")
		counter(descWebhookEvents, s.Duplicates, s.System, "duplicate")
		counter(descWebhookEvents, s.Unrouted, s.System, "unrouted")
	}
}

// rateLimitCollector reads the rate limiters' counters at each scrape.
type rateLimitCollector struct {
	names   []string
	systems map[string]RateLimited
}

func newRateLimitCollector(conns map[string]connector.Connector) *rateLimitCollector {
	c := &rateLimitCollector{systems: map[string]RateLimited{}}
	for name, conn := range conns {
		if r, ok := conn.(RateLimited); ok {
			c.systems[name] = r
		}
	}
	c.names = slices.Sorted(maps.Keys(c.systems))
	return c
}

// Describe implements prometheus.Collector.
func (c *rateLimitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRateLimitWaits
	ch <- descRateLimitWaited
}

// Collect implements prometheus.Collector.
func (c *rateLimitCollector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.names {
		waits, waited := c.systems[name].RateLimitWaits()
		ch <- prometheus.MustNewConstMetric(descRateLimitWaits, prometheus.CounterValue, float64(waits), name)
		ch <- prometheus.MustNewConstMetric(descRateLimitWaited, prometheus.CounterValue, waited.Seconds(), name)
	}
}
