// Package faultproxy puts faults between Concord and the systems it talks to,
// for the fault-injection tests (internal/e2e) and nothing else: no command of
// the concord binary imports it.
//
// A Proxy is two layers in front of one HTTP upstream:
//
//	client ──TCP──▶ TCP layer (toxiproxy) ──▶ HTTP layer ──▶ upstream
//
// The TCP layer is Shopify's toxiproxy used as a Go library: latency with
// jitter, connections reset by peer and connections that stall and then close,
// each on a share of the connections (toxiproxy decides per connection). The
// HTTP layer decides per request, so its rate is the share of requests: it
// answers 429 with Retry-After or a 5xx without asking the upstream, delays the
// request, resets the connection before the upstream sees the request or after
// the upstream did the work (the answer is lost), or holds the request without
// an answer and then drops the connection. It can also close a share of the
// healthy connections after their answer ("churn"), so that keep-alive clients
// open new connections and the TCP layer's per-connection faults keep biting.
//
// Faults start with Inject and stop with Heal; Stats counts what was injected.
package faultproxy
