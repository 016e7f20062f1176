// Package salesforce is a local server that speaks a subset of Salesforce's
// REST API (v46.0 and later paths under /services/data/vXX.X/), built from
// Salesforce's public documentation, for demos and tests where no org is at
// hand: the OAuth 2.0 token endpoint (client credentials and JWT bearer),
// sObject CRUD and upsert by External ID for Account, Contact, Opportunity,
// OpportunityLineItem, Product2, Pricebook2 and PricebookEntry, SOQL query,
// queryAll and queryMore, sObject Collections, getUpdated and getDeleted,
// describe, custom fields through the Tooling API, and the daily API request
// limit with the Sforce-Limit-Info header. docs/sandbox.md lists what it
// covers and what it does not.
//
// State is kept in memory. A Server is safe for concurrent use.
package salesforce
