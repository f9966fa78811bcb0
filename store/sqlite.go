package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDB is an SQLite file opened through modernc.org/sqlite.
//
// SQLite has one writer at a time, so this process has one writer
// connection: every transaction and every statement that is not a plain
// SELECT runs on it, and writers queue in the process (on database/sql's
// pool of one) instead of on SQLite's lock, where a busy writer could
// outlast the busy timeout and fail with "database is locked". Every
// transaction still begins IMMEDIATE, for other processes on the same file
// (a migration, the command line), which wait on the busy timeout. WAL lets
// the reader connections (query_only) go on beside the writer.
type sqliteDB struct {
	db     *sql.DB // readers: plain SELECTs outside a transaction
	write  *sql.DB // the one writer connection
	path   string
	logger *slog.Logger
}

// sqliteQuerier is what *sql.DB and *sql.Tx have in common.
type sqliteQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// openSQLite opens (creating if needed) the database file at path.
// query holds extra DSN parameters for the driver, appended to ours.
func openSQLite(ctx context.Context, path, query string, logger *slog.Logger) (*sqliteDB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, errors.New("open database: sqlite url names no file (want sqlite:PATH)")
	}
	if path == ":memory:" || strings.HasPrefix(path, ":memory:") {
		return nil, errors.New("open database: in-memory sqlite is not supported, name a file (sqlite:PATH)")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open database: cannot create sqlite directory %q: %w", dir, err)
	}
	// Probe the file ourselves: SQLite's own message for a file it cannot
	// create is "unable to open database file", which names nothing.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open database: cannot open sqlite file %q for writing: %w", path, err)
	}
	f.Close()

	dsn, err := sqliteDSN(path, query)
	if err != nil {
		return nil, fmt.Errorf("open database: sqlite url: %w", err)
	}
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: sqlite file %q: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	// The writer first: it sets WAL on a new file before a reader opens it.
	if err := pingSQLite(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("open database: sqlite file %q: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open database: sqlite file %q: %w", path, err)
	}
	// Readers run in parallel under WAL.
	db.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	db.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	db.SetConnMaxIdleTime(0)
	d := &sqliteDB{db: db, write: write, path: path, logger: logger}
	if err := d.Ping(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open database: sqlite file %q: %w", path, err)
	}
	return d, nil
}

// sqliteReadOnly reports whether q is a plain SELECT, which a reader
// connection may run; anything else (INSERT ... RETURNING, WITH, PRAGMA)
// goes to the writer.
func sqliteReadOnly(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "select")
}

// conn returns the connection pool that runs q.
func (d *sqliteDB) conn(q string) *sql.DB {
	if sqliteReadOnly(q) {
		return d.db
	}
	return d.write
}

// sqliteDefaults are the pragmas every connection starts with. FULL
// synchronous makes a commit durable before InTx returns (the cursor and
// Kafka offsets move on that promise); WAL lets readers run beside the
// writer. A _pragma of the same name in the URL replaces a default.
var sqliteDefaults = []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(FULL)"}

// sqliteDSN builds the driver's DSN for the file at path, with the user's
// extra parameters (query) after the defaults.
func sqliteDSN(path, query string) (string, error) {
	user, err := url.ParseQuery(query)
	if err != nil {
		return "", err
	}
	set := map[string]bool{}
	for _, p := range user["_pragma"] {
		set[pragmaName(p)] = true
	}
	params := url.Values{}
	for _, p := range sqliteDefaults {
		if !set[pragmaName(p)] {
			params.Add("_pragma", p)
		}
	}
	for k, vs := range user {
		for _, v := range vs {
			params.Add(k, v)
		}
	}
	if _, ok := user["_txlock"]; !ok {
		params.Set("_txlock", "immediate")
	}
	// The driver opens "file:" names as SQLite URIs, which decode %XX.
	return "file:" + uriPathEscaper.Replace(path) + "?" + params.Encode(), nil
}

func pragmaName(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	if i := strings.IndexAny(p, "(= "); i >= 0 {
		p = p[:i]
	}
	return p
}

var uriPathEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

func (d *sqliteDB) Dialect() Dialect { return SQLite }

// Ping checks the file is readable and is an SQLite database (a stray file
// of another kind fails here rather than at the first query).
func (d *sqliteDB) Ping(ctx context.Context) error {
	if err := pingSQLite(ctx, d.write); err != nil {
		return err
	}
	return pingSQLite(ctx, d.db)
}

func pingSQLite(ctx context.Context, db *sql.DB) error {
	var n int
	return db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n)
}

func (d *sqliteDB) Close() error { return errors.Join(d.db.Close(), d.write.Close()) }

func (d *sqliteDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqliteExec(ctx, d.write, q, args)
}

func (d *sqliteDB) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return sqliteQuery(ctx, d.conn(q), q, args)
}

func (d *sqliteDB) QueryRow(ctx context.Context, q string, args ...any) Row {
	return sqliteRow{d.conn(q).QueryRowContext(ctx, sqliteParams(q), sqliteArgs(args)...)}
}

// maxTxAttempts bounds how often InTx runs fn when the database asks for a
// retry (busy, serialization failure, deadlock).
const maxTxAttempts = 8

func (d *sqliteDB) InTx(ctx context.Context, fn func(tx Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := d.tryTx(ctx, fn)
		if err == nil || !sqliteRetryable(err) || attempt == maxTxAttempts {
			return err
		}
		d.logger.DebugContext(ctx, "retrying transaction", "attempt", attempt, "error", err)
		if err := sleepCtx(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

func (d *sqliteDB) tryTx(ctx context.Context, fn func(tx Tx) error) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(sqliteTx{tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sqliteRetryable reports whether err is SQLite's "try again": another
// connection holds the lock for longer than the busy timeout.
func sqliteRetryable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

type sqliteTx struct{ tx *sql.Tx }

func (t sqliteTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqliteExec(ctx, t.tx, q, args)
}

func (t sqliteTx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return sqliteQuery(ctx, t.tx, q, args)
}

func (t sqliteTx) QueryRow(ctx context.Context, q string, args ...any) Row {
	return sqliteRow{t.tx.QueryRowContext(ctx, sqliteParams(q), sqliteArgs(args)...)}
}

func sqliteExec(ctx context.Context, db sqliteQuerier, q string, args []any) (int64, error) {
	res, err := db.ExecContext(ctx, sqliteParams(q), sqliteArgs(args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func sqliteQuery(ctx context.Context, db sqliteQuerier, q string, args []any) (Rows, error) {
	rows, err := db.QueryContext(ctx, sqliteParams(q), sqliteArgs(args)...)
	if err != nil {
		return nil, err
	}
	return sqliteRows{rows}, nil
}

type sqliteRows struct{ rows *sql.Rows }

func (r sqliteRows) Next() bool             { return r.rows.Next() }
func (r sqliteRows) Err() error             { return r.rows.Err() }
func (r sqliteRows) Close()                 { r.rows.Close() }
func (r sqliteRows) Scan(dest ...any) error { return sqliteScan(r.rows.Scan, dest) }

type sqliteRow struct{ row *sql.Row }

func (r sqliteRow) Scan(dest ...any) error {
	err := sqliteScan(r.row.Scan, dest)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

func backoff(attempt int) time.Duration {
	d := time.Duration(attempt*attempt) * 5 * time.Millisecond
	// Spread retries of transactions that collided with each other.
	return d + time.Duration(time.Now().UnixNano()%int64(5*time.Millisecond))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
