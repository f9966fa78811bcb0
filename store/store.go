// Package store keeps mashangban's state: posts, cases, assignments, the
// audit log, source cursors, dead letters and the reply outbox.
//
// The SQL is written once, with $1-style placeholders, against DB: a small
// interface with two implementations, PostgreSQL through pgx/v5 (pgxpool) for
// production and an SQLite file through the pure-Go modernc.org/sqlite driver
// as the zero-setup default. Schema migrations are embedded per dialect and
// the daemon refuses to run on an old schema. Every effect that may be
// retried is made idempotent by a unique key in the schema, not in memory.
//
// It is not for business rules: which case a post joins, deadlines and
// transitions are decided by dispatch, which calls the methods here.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Dialect names the SQL engine behind a DB.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Querier runs SQL. Placeholders are $1, $2, ... for both dialects.
// time.Time arguments and scan targets (time.Time, *time.Time for NULL) work
// the same on both dialects, always in UTC.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	// QueryRow's Scan returns ErrNotFound when there is no row.
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Rows is a result set; callers always check Err after Next returns false.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result.
type Row interface {
	Scan(dest ...any) error
}

// Tx is a transaction.
type Tx interface {
	Querier
}

// DB is a connection pool of one dialect.
type DB interface {
	Querier
	// InTx runs fn in a transaction: committed if fn returns nil, rolled back
	// otherwise. Serialization failures and SQLite busy errors are retried.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	Dialect() Dialect
	Ping(ctx context.Context) error
	Close() error
}

// Store is mashangban's state on one database. Its methods hold the SQL;
// DB is exported so that the entity files of this package, and callers that
// need a transaction (DB.InTx), can reach the pool.
type Store struct {
	DB DB
	// Now is the clock used for the times the store itself records
	// (posts.inserted_at, source_cursors.updated_at, dead_letters.created_at).
	Now    func() time.Time
	logger *slog.Logger
}

// New wraps an open DB.
func New(db DB, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{DB: db, Now: time.Now, logger: logger.With("component", "store")}
}

// Open connects to the database named by url and checks that it answers:
//
//	postgres://user:password@host:port/db?sslmode=disable (or postgresql://)
//	sqlite:PATH, sqlite://PATH, file:PATH (an SQLite file, created if missing;
//	    sqlite:///abs/path for an absolute path; extra ?key=value pairs go to
//	    the modernc.org/sqlite driver)
//
// It does not migrate: call Migrate, or CheckSchema to refuse an old schema.
// Error messages never contain the password.
func Open(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := openPostgres(ctx, url, logger.With("component", "store"))
		if err != nil {
			return nil, err
		}
		return New(db, logger), nil
	case strings.HasPrefix(url, "sqlite:"), strings.HasPrefix(url, "file:"):
		rest := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "file:")
		rest = strings.TrimPrefix(rest, "//")
		path, query, _ := strings.Cut(rest, "?")
		db, err := openSQLite(ctx, path, query, logger.With("component", "store"))
		if err != nil {
			return nil, err
		}
		return New(db, logger), nil
	case url == "":
		return nil, errors.New("open database: no database url (want postgres://... or sqlite:PATH)")
	}
	scheme, _, _ := strings.Cut(url, ":")
	return nil, fmt.Errorf("open database: unsupported url scheme %q (want postgres://... or sqlite:PATH)", scheme)
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.DB.Ping(ctx) }

// Close closes the pool.
func (s *Store) Close() error { return s.DB.Close() }

func (s *Store) now() time.Time { return s.Now().UTC() }

// querier returns q, or the pool when q is nil.
func (s *Store) querier(q Querier) Querier {
	if q == nil {
		return s.DB
	}
	return q
}

// IsUniqueViolation reports whether err is a unique or primary key
// constraint violation, on either dialect.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// scanner is what a row-scanning function reads from: a Row or the current
// row of Rows.
type scanner interface {
	Scan(dest ...any) error
}

// collectRows reads every row of rows with scan, closes rows (before the
// caller's next query: SQLite's single writer connection must be free) and
// checks rows.Err.
func collectRows[T any](rows Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
