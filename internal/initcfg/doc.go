// Package initcfg proposes a Concord config from what two systems hold: it
// recognises tables, object types and models as canonical entities, and their
// columns, properties and fields as canonical fields, by name and type; picks
// each sql table's id_kind from its key; proposes ownership (accounts and
// contacts owned by the CRM, products by the ERP) and one-way flows; and, for
// sql systems, the DDL a DBA must run so that change detection and links work
// (an updated_at column with its index and trigger, a unique link column).
//
// It works on connector.Catalog only, so it is the same for every connector
// that implements connector.Inspector; what differs per connector is how the
// mapping is written into its settings (sql: tables and columns; hubspot:
// objects and properties; tryton: fixed models, no mapping to write).
// `concord init` (cmd/concord/init.go) inspects the systems, calls Propose,
// writes Render's output and prints the DDL. Nothing here does I/O.
package initcfg
