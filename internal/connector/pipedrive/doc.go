// Package pipedrive is the Pipedrive CRM connector: organizations as
// accounts, persons as contacts, deals with their products as deals (the
// products as the deal's lines), products as a read-only mirror of the ERP's
// catalogue. It reads changes by update_time with an overlap over API v2's
// cursor-paged lists, keeps the other system's id in a custom field (the link
// field, created on open when asked), writes one record per call so that
// every record has its own outcome, shares one rate budget per token in the
// process, and verifies v2 webhooks by their HTTP basic auth. The HTTP
// client is in pipedrivehttp. A Conn is safe for concurrent use.
package pipedrive
