// Package odoo is the connector for the Odoo ERP (17.0 Community and later)
// over JSON-RPC (package odoorpc). This first version maps three entities:
//
//   - account: res.partner companies (is_company), with address, country, VAT,
//     phone, e-mail and active; created with customer_rank 1;
//   - contact: res.partner persons (not companies, not users' partners), the
//     name split into first and last name, the company as account;
//   - product: product.product variants (SKU default_code, name, sales
//     description, list price, cost, stock on hand in the warehouse, unit,
//     category, active).
//
// Change detection is by write_date (second resolution, the time the writing
// transaction began) looking back an overlap window before the cursor; the
// cursor remembers the version of what it delivered within the window so that
// a record is delivered again only when it changed. A product counts as
// changed when its template changed.
//
// The link key (the CRM id) is kept in a field of the record: res.partner
// "ref" and product.product "barcode" by default (settings partner_link_field
// and product_link_field name another char field, a custom x_ field for
// instance). External identifiers (ir.model.data) would need the Access
// Rights group, which an integration user should not have.
//
// Creates go in batches of batch_size records, one create call per batch;
// Odoo creates a batch in one transaction, so a refused batch is split in
// halves until the refused records are isolated, and each gets a permanent
// error naming the canonical field when Odoo named one. Odoo's write takes one
// set of values for all its ids, so updates with equal values share a call
// and others take one call each. Versions are write_date plus a fingerprint of
// the mapped values; updates are checked against them just before writing (Odoo
// has no conditional write, so the check and the write are two calls).
//
// A Conn is safe for concurrent use.
package odoo
