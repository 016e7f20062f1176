// Package hubspot is a local, in-memory HTTP server that speaks a subset of
// HubSpot's public CRM API (v3 objects, batch, search, properties,
// pipelines; v4 associations; webhooks v3 with signature v3), so that
// Concord's HubSpot connector, demos and tests can run without a HubSpot
// account.
//
// It is built from HubSpot's public developer documentation (the pages are
// listed in docs/sandbox.md) and reproduces the behaviour a connector must
// cope with: private-app bearer tokens, the rolling ten-second rate limit
// with its X-HubSpot-RateLimit-* headers and 429 + Retry-After, batch limits
// of 100 inputs with 207 Multi-Status partial failures, upsert by a unique
// property, the search index lag and its 10,000-result ceiling, and signed,
// retried webhook deliveries.
//
// Use New with a Config (DefaultConfig gives working defaults), serve
// Handler, optionally Seed it with Northwind data, and call Close when done.
// All methods of Server are safe for concurrent use.
package hubspot
