// Package report is Concord's reporting layer: a reporting database kept up to
// date from both systems (Refresh reads every mapped entity of the CRM and the
// ERP since its own cursor, paged, and upserts what changed), a documented
// star schema on top of it (dim_customer, dim_product, dim_date, fact_deal,
// fact_invoice, fact_invoice_line, fact_payment), and reports written as
// readable SQL files (sql/*.sql, embedded; users add their own from a
// directory) rendered as a table, CSV, JSON or self-contained HTML with
// charts. Export writes the whole schema as CSV or Parquet for a BI tool.
//
// Money is exact end to end: text in SQLite, numeric in PostgreSQL, summed
// with dec_sum (an exact decimal aggregate the package registers in SQLite and
// creates in PostgreSQL), each amount with its currency; nothing is converted
// between currencies. See docs/reporting.md.
package report
