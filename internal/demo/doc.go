// Package demo builds the pieces of `concord demo`: a HubSpot-compatible CRM
// (the sandbox, in-process) seeded from Northwind with its companies linked to
// the ERP's customers by the ERP id, an ERP as a SQLite database (Northwind's
// customers and products, sale orders with lines, invoices and payments), the
// config that runs the four order-to-cash flows between them, and a simulator
// that plays both sides' users: deals won in the CRM, invoices issued and paid in
// the ERP.
package demo
