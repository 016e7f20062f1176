// Package pgstore is the multi-node store on PostgreSQL, opened through pgx's
// database/sql driver (driver name "pgx") so that River can share its
// transactions.
//
// Tables live in the first schema of the connection's search_path; a DSN such
// as postgres://host/db?search_path=concord puts them in schema "concord"
// (which must exist). Bulk writes and many-id lookups are single unnest/ANY
// statements whose text does not depend on the batch size.
package pgstore
