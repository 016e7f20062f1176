// Package sfhttp is a small client for Salesforce's REST API: OAuth 2.0
// tokens (client credentials or JWT bearer), SOQL query, queryAll and
// queryMore, sObject Collections, describe and the Tooling API's CustomField.
// It has no engine imports. Every request waits for a shared rate limiter
// (the org's API request budget); only read-only calls are repeated after a
// transient failure. A Client is safe for concurrent use.
package sfhttp
