// Package pipedrive is a local server that speaks Pipedrive's REST API, built
// from Pipedrive's public API documentation, for demos and tests: API v2
// organizations, persons, deals (status open/won/lost with won_time), products
// and deal products, listed with cursor pagination and update_time filters;
// custom fields addressed by their 40-character hash keys (created and listed
// with the v1 Fields API); API-token and OAuth bearer authentication; the
// per-token burst rate limit with its x-ratelimit-* headers and 429; the
// documented error body; and v2 webhooks with HTTP basic auth. State is kept
// in memory. docs/sandbox.md says what it covers and what it does not.
package pipedrive
