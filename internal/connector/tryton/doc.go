// Package tryton is the connector for the Tryton ERP (6.0, Debian 12) over
// JSON-RPC. Entities: account <-> party.party (addresses, e-mail, phone and
// website contact mechanisms; the CRM id in a party identifier), contact <->
// a named e-mail party.contact_mechanism of the account's party (the CRM id as
// "concord:<id>" in its comment), product <-> product.product and its
// template, order <-> sale.sale (quoted and confirmed so Tryton invoices it;
// contact = the sale's billing contact) and invoice <- account.invoice (customer invoices,
// read-only).
//
// Changes are read by coalesce(write_date, create_date) of the record and of
// its children (Tryton does not bump a party when its address is edited), with
// an overlap window; the cursor remembers what it delivered inside the window.
// Versions combine Tryton's _timestamp (checked by the server) and the exact
// change time (checked by the connector, since _timestamp has a 1 s resolution
// on SQLite); a party create returns the exact version "created" instead of
// reading the parties back. Writes are batched (batch_size records per create call), split
// in halves when Tryton refuses a batch so that each refused record gets its
// own error, and serialised per connection.
//
// The client in trytonrpc has no engine imports; trytontest gives tests a
// cloned database of the server scripts/tryton.sh runs.
package tryton
