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
