// Package trytonrpc is a JSON-RPC client for the Tryton ERP server (tested with
// Tryton 6.0 from Debian 12). It has no Concord engine imports, so it can be
// used and tested on its own.
//
// A Client holds one session for its whole life: it logs in once with
// common.db.login, sends "Authorization: Session ..." on every call, logs in
// again when the server answers 401 (session expired), and logs out on Close.
// Every call carries the user's context (company, employee, language) read from
// res.user.get_preferences, merged with the caller's extra keys.
//
// Tryton's special JSON values ({"__class__": "Decimal", ...}, datetime, date,
// time, timedelta, bytes) are decoded into decimal.Decimal, time.Time (naive
// server times are taken as UTC), Date, TimeOfDay, time.Duration and []byte;
// Record's accessors accept booleans as true/false (PostgreSQL) or 1/0 (SQLite).
//
// Errors are typed: *UserError (the server refused the request; permanent,
// carrying only the human message), *UserWarning (a business warning the caller
// may accept with AcceptWarning), *RetryableError (ConcurrencyException or a
// database lock), *RateLimitError (HTTP 429 after failed logins), *ServerError
// (any other server exception) and *HTTPError. No error or log line ever
// contains the password or the session key.
//
// A Client is safe for concurrent use by several goroutines.
package trytonrpc
