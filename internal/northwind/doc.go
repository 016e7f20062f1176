// Package northwind loads the Northwind sample database as typed Go values.
//
// The data comes from the PostgreSQL dump of github.com/pthom/northwind_psql
// (commit cd0ef28d66369fbe177778e604e4be0f153c9e5c, Microsoft Public
// License; see testdata/northwind/LICENSE and testdata/northwind/SOURCE.md).
// The dump itself is testdata/northwind/northwind.sql, embedded by the
// repository's root package (go:embed cannot reach outside a package directory).
//
// Only the INSERT statements are read. The dump stores prices, freight and
// discounts in PostgreSQL "real" (float4) columns and prints them with nine
// significant digits (9.80000019). Those texts are parsed straight into
// decimal.Decimal, never through a float, and rounded half-even to the two
// decimal places the original Northwind money and discount values have, so
// 9.80000019 becomes exactly 9.80 and 0.0500000007 exactly 0.05.
//
// Picture and photo (bytea) columns are skipped. Backslashes are kept
// literally, as PostgreSQL does with standard_conforming_strings on.
package northwind
