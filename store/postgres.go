package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgDB is a PostgreSQL connection pool.
//
// Transactions run SERIALIZABLE: dispatch's SQL is written once for both
// dialects and SQLite transactions are serial, so PostgreSQL must give the
// same guarantee; conflicts surface as serialization failures, which InTx
// retries.
type pgDB struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// openPostgres connects to url and checks the server answers.
func openPostgres(ctx context.Context, url string, logger *slog.Logger) (*pgDB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, errors.New("open database: cannot parse postgres url (want postgres://user:password@host:port/db?sslmode=...)")
	}
	// Without a timeout an unanswering host holds Open for the OS's TCP
	// timeout (minutes); connect_timeout in the URL overrides this.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "mashangban"
	}
	where := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: postgres at %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			// The server answered and said no (no such database or role,
			// authentication failed).
			return nil, fmt.Errorf("open database: postgres at %s refused the connection: %w", where, pe)
		}
		return nil, fmt.Errorf("open database: cannot reach postgres at %s: %w", where, pgCause(err))
	}
	return &pgDB{pool: pool, logger: logger}, nil
}

// pgCause strips pgconn's connect error down to its cause; its own text
// repeats host, user and database in a long prefix.
func pgCause(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap()
	}
	return err
}

func (d *pgDB) Dialect() Dialect               { return Postgres }
func (d *pgDB) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }
func (d *pgDB) Close() error                   { d.pool.Close(); return nil }
func (d *pgDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return pgExec(ctx, d.pool, q, args)
}

func (d *pgDB) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return pgQuery(ctx, d.pool, q, args)
}

func (d *pgDB) QueryRow(ctx context.Context, q string, args ...any) Row {
	return pgRow{d.pool.QueryRow(ctx, q, pgArgs(args)...)}
}

func (d *pgDB) InTx(ctx context.Context, fn func(tx Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := d.tryTx(ctx, fn)
		if err == nil || !pgRetryable(err) || attempt == maxTxAttempts {
			return err
		}
		d.logger.DebugContext(ctx, "retrying transaction", "attempt", attempt, "error", err)
		if err := sleepCtx(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

func (d *pgDB) tryTx(ctx context.Context, fn func(tx Tx) error) error {
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(pgTx{tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// pgRetryable reports a serialization failure or a deadlock: the
// transaction lost a race and may succeed when run again.
func pgRetryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == "40001" || pe.Code == "40P01"
}

// pgQuerier is what *pgxpool.Pool and pgx.Tx have in common.
type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return pgExec(ctx, t.tx, q, args)
}

func (t pgTx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return pgQuery(ctx, t.tx, q, args)
}

func (t pgTx) QueryRow(ctx context.Context, q string, args ...any) Row {
	return pgRow{t.tx.QueryRow(ctx, q, pgArgs(args)...)}
}

func pgExec(ctx context.Context, db pgQuerier, q string, args []any) (int64, error) {
	tag, err := db.Exec(ctx, q, pgArgs(args)...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func pgQuery(ctx context.Context, db pgQuerier, q string, args []any) (Rows, error) {
	rows, err := db.Query(ctx, q, pgArgs(args)...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

type pgRows struct{ rows pgx.Rows }

func (r pgRows) Next() bool { return r.rows.Next() }
func (r pgRows) Err() error { return r.rows.Err() }
func (r pgRows) Close()     { r.rows.Close() }
func (r pgRows) Scan(dest ...any) error {
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	pgFixTimes(dest)
	return nil
}

type pgRow struct{ row pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	if err := r.row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return err
	}
	pgFixTimes(dest)
	return nil
}

// pgConnQuerier runs statements on one pooled connection.
type pgConnQuerier struct{ conn *pgxpool.Conn }

func (c pgConnQuerier) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return pgExec(ctx, c.conn, q, args)
}

func (c pgConnQuerier) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	return pgQuery(ctx, c.conn, q, args)
}

func (c pgConnQuerier) QueryRow(ctx context.Context, q string, args ...any) Row {
	return pgRow{c.conn.QueryRow(ctx, q, pgArgs(args)...)}
}
