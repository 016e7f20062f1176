// Package salesforce is the connector for Salesforce CRM: Accounts, Contacts,
// Opportunities (with their OpportunityLineItems) and Product2 records with
// their standard price, read and written through Salesforce's REST API
// (client in package sfhttp).
//
// Reads poll with SOQL over queryAll by keyset on (SystemModstamp, Id), from
// the high-water mark minus an overlap window, so records moved to the
// recycle bin come back with IsDeleted set and are reported archived.
// Creates are sObject Collections upserts by an External ID field holding the
// other system's id, so a retried create updates the record an earlier
// attempt made; updates are Collections updates by Id; every record gets its
// own result. Every call to one org waits for one shared rate limiter (the
// org's API request budget).
//
// A Conn is safe for concurrent use.
package salesforce
