package sqlconn

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/concord-sync/concord/internal/connector"
)

// mysqlRefusals are MySQL/MariaDB error numbers that mean the row was refused:
// bad value, constraint, missing required column.
var mysqlRefusals = map[uint16]bool{
	1048: true, // column cannot be null
	1062: true, // duplicate entry
	1264: true, // out of range
	1265: true, // data truncated
	1292: true, // incorrect datetime value
	1364: true, // field has no default
	1366: true, // incorrect value for column
	1406: true, // data too long
	1411: true, // incorrect value for function
	1451: true, // foreign key (parent row)
	1452: true, // foreign key (child row)
	1690: true, // value out of range
	3819: true, // check constraint violated (MySQL)
	4025: true, // CONSTRAINT failed (MariaDB)
}

// SQLite primary result codes that mean the row was refused.
const (
	sqliteTooBig     = 18
	sqliteConstraint = 19
	sqliteMismatch   = 20
	sqliteUnique     = 2067 // SQLITE_CONSTRAINT_UNIQUE
	sqlitePrimaryKey = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
)

// refusal reports whether err means the database refused the row, and the text
// that may name the column or constraint at fault.
func refusal(err error) (bool, string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23") {
			if pe.ColumnName != "" {
				return true, "column '" + pe.ColumnName + "'"
			}
			return true, pe.ConstraintName + " " + pe.Message + " " + pe.Detail
		}
		return false, ""
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return mysqlRefusals[me.Number], me.Message
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteConstraint, sqliteMismatch, sqliteTooBig:
			return true, se.Error()
		}
	}
	return false, ""
}

// isUnique reports whether err is a unique-key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqliteUnique || se.Code() == sqlitePrimaryKey
	}
	return false
}

// isTxAbort reports whether err means the database aborted the transaction to
// resolve a deadlock or serialization failure; the whole batch may be retried.
func isTxAbort(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	return false
}

// isBadInput reports whether err is a data exception on a bound value (a
// PostgreSQL id that is not a number, say).
func isBadInput(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22")
}

// classify turns a statement error for one row into its Result.Err: permanent,
// naming the canonical field when the message names a mapped column, for
// refusals; unchanged (retryable) otherwise.
func (t *table) classify(err error) error {
	ok, text := refusal(err)
	if !ok {
		return err
	}
	return connector.Permanent(t.fieldIn(text), err)
}

// fieldIn returns the canonical field whose column (or currency column) the text
// names, preferring the longest match; "" when none does.
func (t *table) fieldIn(text string) string {
	text = strings.ToLower(text)
	best, bestLen := "", 0
	for _, f := range t.fields {
		for _, col := range []string{f.col, f.currencyColumn} {
			if col == "" || len(col) <= bestLen {
				continue
			}
			if strings.Contains(text, strings.ToLower(col)) {
				best, bestLen = f.field, len(col)
			}
		}
	}
	return best
}

// SQLite primary result codes of a busy or locked database (transient), and of
// a file that cannot be a database or a statement naming what does not exist.
const (
	sqliteError    = 1
	sqliteBusy     = 5
	sqliteLocked   = 6
	sqliteCantOpen = 14
	sqliteNotADB   = 26
)

// mysqlTransient are MySQL/MariaDB error numbers a later attempt may not meet:
// too many connections, server shutting down, lock wait timeout, deadlock.
var mysqlTransient = map[uint16]bool{1040: true, 1053: true, 1205: true, 1213: true, 1927: true}

// mysqlPermanent are MySQL/MariaDB error numbers of a bad configuration: access
// denied, unknown database, unknown table or column, command denied.
var mysqlPermanent = map[uint16]bool{1044: true, 1045: true, 1049: true, 1054: true, 1142: true, 1146: true, 1698: true}

// classifyConn marks an error met while opening or reading the database for the
// callers across the seam: transient (connector.Transient) when the database was
// unreachable, starting, overloaded, locked or aborted the transaction;
// permanent (connector.Permanent) when the credentials, the database, a table or
// a column are wrong; otherwise unchanged. Network failures are left to
// connector.IsTransient, which recognises them by themselves.
func classifyConn(err error) error {
	if err == nil || connector.IsPermanent(err) {
		return err
	}
	var te *connector.TransientError
	if errors.As(err, &te) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"),
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03",
			pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03":
			return connector.Transient(err)
		case strings.HasPrefix(pe.Code, "28"), pe.Code == "3D000", strings.HasPrefix(pe.Code, "42"):
			return connector.Permanent("", err)
		}
		return err
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch {
		case mysqlTransient[me.Number]:
			return connector.Transient(err)
		case mysqlPermanent[me.Number]:
			return connector.Permanent("", err)
		}
		return err
	}
	if errors.Is(err, mysql.ErrInvalidConn) {
		return connector.Transient(err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteBusy, sqliteLocked:
			return connector.Transient(err)
		case sqliteError, sqliteCantOpen, sqliteNotADB:
			return connector.Permanent("", err)
		}
	}
	return err
}
