package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Permanent reports whether err is a database error that running the same
// statement with the same data again cannot fix: on PostgreSQL a data
// exception (SQLSTATE class 22, such as 22021 for a NUL byte in text), an
// integrity constraint violation (23), a syntax or access rule violation
// (42) or a program limit (54, such as a key too long for its index); on
// SQLite a constraint, a value too big, a datatype mismatch or an SQL
// error. Idempotence conflicts never get here: the expected unique keys are
// absorbed by ON CONFLICT DO NOTHING in the statements themselves.
//
// Everything else counts as transient: connection errors, serialization
// failures (40001), deadlocks (40P01), an administrator's shutdown (57P01),
// insufficient resources (53), SQLite busy or locked, and errors that are
// not database errors at all. A caller retries a permanent error a bounded
// number of times and then sets the one item aside; a transient one is
// retried for as long as it takes.
func Permanent(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "22"), strings.HasPrefix(pe.Code, "23"),
			strings.HasPrefix(pe.Code, "42"), strings.HasPrefix(pe.Code, "54"):
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH,
			sqlite3.SQLITE_ERROR, sqlite3.SQLITE_RANGE:
			return true
		}
	}
	return false
}
