// Package odoorpc is a JSON-RPC client for the Odoo ERP server (tested with
// Odoo 17.0 Community). It has no Concord engine imports, so it can be used and
// tested on its own.
//
// Every call is a POST to /jsonrpc: "common" login and version, and "object"
// execute_kw(db, uid, password, model, method, args, kwargs). Odoo keeps no
// session for these calls: the password (or an API key, which Odoo accepts in
// its place) goes with each call. A Client logs in once (common.login) to learn
// the user id; a refused login is ErrUnauthorized.
//
// Every call carries a context: the Config's (default lang en_US, tz UTC)
// merged with the caller's keys (active_test, active_model, active_ids ...).
//
// Values are plain JSON: Odoo answers false for an empty field of any type, a
// many2one as [id, display name], an x2many as a list of ids, datetimes as
// "2006-01-02 15:04:05" in UTC and dates as "2006-01-02". Record's accessors
// turn these into Go values; numbers are kept exact (json.Number) so that
// Decimal reads what the server sent. Writes to x2many fields take Commands
// (Create, Update, Delete, Unlink, Link, Clear, Set).
//
// Errors: Odoo answers every error with HTTP 200 and tells them apart only by
// error.data.name. They become *Error, matched with errors.Is against
// ErrUnauthorized (odoo.exceptions.AccessDenied), ErrAccess (AccessError),
// ErrValidation (ValidationError), ErrUser (UserError, RedirectWarning),
// ErrMissing (MissingError) and ErrRateLimited (too many failed logins).
// (*Error).Transient reports the failures a later attempt may not meet (a
// serialization failure, a lock, a lost database connection); HTTP statuses
// other than 200 are *HTTPError. No error or log line ever contains the
// password, the API key or the values sent.
//
// A Client is safe for concurrent use by several goroutines.
package odoorpc
