package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations live in migrations/<dialect>/NNNN_name.sql, one schema version
// per file, the same numbers for both dialects. Each runs in its own
// transaction together with its row in schema_migrations, so a failed
// migration leaves the schema at the previous version.
//
//go:embed migrations
var migrationFS embed.FS

// ErrSchemaOutdated is returned by CheckSchema when the database is behind
// this binary's migrations.
var ErrSchemaOutdated = errors.New("database schema is outdated")

// ErrSchemaAhead is returned by CheckSchema when the database was migrated by
// a newer mashangban than this one.
var ErrSchemaAhead = errors.New("database schema is newer than this mashangban")

type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations of dialect d in version order.
func migrations(d Dialect) ([]migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(e.Name(), ".sql"), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations of %s: expected version %d, found %q", d, i+1, m.name)
		}
	}
	return ms, nil
}

const createSchemaMigrationsPG = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)`

const createSchemaMigrationsSQLite = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)`

// Migrate brings the schema to the latest version this binary knows. It is
// safe to run from several processes at once: on PostgreSQL they queue on an
// advisory lock (one per schema), on SQLite on the write lock; either way
// each version is applied once. A database ahead of the binary is left alone
// and reported.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations(s.DB.Dialect())
	if err != nil {
		return err
	}
	apply := func(q Querier, inTx func(func(Tx) error) error) error {
		current, err := currentVersion(ctx, q)
		if err != nil {
			return err
		}
		if current > len(ms) {
			return schemaAheadError(current, len(ms))
		}
		for _, m := range ms[current:] {
			err := inTx(func(tx Tx) error {
				// Checked again under the lock: another migrator may have
				// applied this version since we read current.
				var n int
				if err := tx.QueryRow(ctx, `
					SELECT count(*)
					FROM schema_migrations
					WHERE version = $1`, m.version).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					return nil
				}
				if _, err := tx.Exec(ctx, m.sql); err != nil {
					return err
				}
				if fill := s.migrationData(m.version); fill != nil {
					if err := fill(ctx, tx); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, `
					INSERT INTO schema_migrations (version, name, applied_at)
					VALUES ($1, $2, $3)`, m.version, m.name, s.now())
				return err
			})
			if err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			s.logger.InfoContext(ctx, "applied migration", "version", m.version, "name", m.name)
		}
		return nil
	}
	switch db := s.DB.(type) {
	case *pgDB:
		return db.migrate(ctx, apply)
	case *sqliteDB:
		if _, err := db.Exec(ctx, createSchemaMigrationsSQLite); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		// BEGIN IMMEDIATE serialises migrators on SQLite's write lock.
		return apply(db, func(fn func(Tx) error) error { return db.InTx(ctx, fn) })
	}
	return fmt.Errorf("migrate: unsupported database %T", s.DB)
}

// migrationData returns the Go step that fills in what the SQL of migration
// version cannot compute, run in the migration's transaction; nil for none.
func (s *Store) migrationData(version int) func(context.Context, Querier) error {
	switch version {
	case 5: // case_lsh: index the open cases
		return s.backfillRepeatKeys
	}
	return nil
}

// migrate runs apply on one connection holding a session advisory lock keyed
// by the current schema, so concurrent migrators of one schema run one after
// the other while tests in other schemas are not held up. Migrations run
// READ COMMITTED: DDL does not need SERIALIZABLE, and the version re-check
// must see what the previous lock holder committed.
func (d *pgDB) migrate(ctx context.Context, apply func(Querier, func(func(Tx) error) error) error) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7210, hashtext(current_schema()))`); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx is done,
		// or the pooled connection would keep it.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(7210, hashtext(current_schema()))`); err != nil {
			conn.Conn().Close(uctx) //nolint:errcheck // closing drops the lock
		}
	}()
	if _, err := conn.Exec(ctx, createSchemaMigrationsPG); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	q := pgConnQuerier{conn}
	inTx := func(fn func(Tx) error) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		if err := fn(pgTx{tx}); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	return apply(q, inTx)
}

// SchemaVersion returns the database's schema version (0 for an empty
// database) and the latest version this binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	ms, err := migrations(s.DB.Dialect())
	if err != nil {
		return 0, 0, err
	}
	current, err = currentVersion(ctx, s.DB)
	return current, len(ms), err
}

// CheckSchema returns an error wrapping ErrSchemaOutdated when the database
// needs migrating, and one wrapping ErrSchemaAhead when it was migrated by a
// newer mashangban. The daemon refuses to start on either.
func (s *Store) CheckSchema(ctx context.Context) error {
	current, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case current < latest:
		return fmt.Errorf("%w: database schema is at version %d, this mashangban needs %d: run `mashangban migrate` or start with --db.migrate",
			ErrSchemaOutdated, current, latest)
	case current > latest:
		return schemaAheadError(current, latest)
	}
	return nil
}

func schemaAheadError(current, latest int) error {
	return fmt.Errorf("%w: database schema is at version %d, this mashangban knows only up to %d: run a newer mashangban",
		ErrSchemaAhead, current, latest)
}

// currentVersion reads the highest applied version, 0 when the
// schema_migrations table does not exist yet.
func currentVersion(ctx context.Context, q Querier) (int, error) {
	exists, err := tableExists(ctx, q, "schema_migrations")
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, `
		SELECT COALESCE(MAX(version), 0)
		FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func tableExists(ctx context.Context, q Querier, table string) (bool, error) {
	var n int
	var err error
	switch dialectOf(q) {
	case Postgres:
		err = q.QueryRow(ctx, `
			SELECT count(*)
			FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = $1`, table).Scan(&n)
	default:
		err = q.QueryRow(ctx, `
			SELECT count(*)
			FROM sqlite_master
			WHERE type = 'table' AND name = $1`, table).Scan(&n)
	}
	return n > 0, err
}

func dialectOf(q Querier) Dialect {
	switch q := q.(type) {
	case DB:
		return q.Dialect()
	case pgTx, pgConnQuerier:
		return Postgres
	}
	return SQLite
}
