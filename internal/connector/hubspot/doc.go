// Package hubspot is the connector for HubSpot CRM: companies, contacts, deals
// (with their company, contact and line items), products and line items, read
// and written through HubSpot's public REST API.
//
// Reads poll HubSpot's search API by keyset on hs_lastmodifieddate (so no
// query pages past the 10,000-result ceiling) with an overlap window covering
// the search index delay, then list archived records. Creates are batch
// upserts by a unique link property holding the ERP id, so a retried create
// finds the record an earlier attempt made; updates are batch updates by id;
// 207 Multi-Status answers give per-record results. Every call to one portal
// goes through one rate limiter (package hubspothttp), and VerifyWebhook
// checks HubSpot's v3 webhook signatures.
//
// A Conn is safe for concurrent use.
package hubspot
