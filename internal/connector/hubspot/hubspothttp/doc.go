// Package hubspothttp is a small client for HubSpot's CRM REST API (v3 objects,
// search and batch, v4 associations, v3 properties) with a rate limiter shared by
// every call to one portal.
//
// It knows HTTP, JSON and HubSpot's error bodies and rate-limit headers, and
// nothing of Concord's engine: it must not import internal/model,
// internal/connector, internal/store or internal/engine.
//
// Rate limiting: a Limiter keeps at most Budget requests in any rolling Interval
// (HubSpot's TEN_SECONDLY_ROLLING policy), counting each request until Interval
// after its response arrived, so the server's window (which counts arrivals)
// never sees more than the budget. It lowers its own budget when
// X-HubSpot-RateLimit-Max is lower, reconciles with
// X-HubSpot-RateLimit-Remaining (other apps share a portal's budget) and paces
// requests evenly once the remaining budget runs low. A 429 pauses every caller
// of the limiter for the Retry-After time, then the request is retried, up to
// Config.MaxAttempts. Callers waiting with a Live priority (see WithPriority)
// are served before Backfill callers.
package hubspothttp
