// Package storetest opens fresh, migrated stores for tests: an SQLite file
// in the test's temporary directory and, when TEST_DATABASE_URL is set, a
// private schema in that PostgreSQL database. Tests written against
// ForEachStore run on both dialects.
//
// It is not for production code.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mashangban/mashangban/store"
)

// EnvURL names the PostgreSQL database tests use; each store gets its own
// schema in it, dropped at cleanup.
const EnvURL = "TEST_DATABASE_URL"

// EnvRequire, set to 1, turns a missing TEST_DATABASE_URL from a skip into a
// failure (for CI, where the PostgreSQL half must not silently vanish).
const EnvRequire = "MSB_REQUIRE_POSTGRES"

// ForEachStore runs fn as a subtest against a fresh migrated SQLite store
// and a fresh migrated PostgreSQL store. Each call gets its own database
// (SQLite) or schema (PostgreSQL), so fn may call t.Parallel.
func ForEachStore(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, OpenPostgres(t)) })
}

// OpenSQLite returns a migrated store on a new SQLite file in t.TempDir(),
// closed at cleanup.
func OpenSQLite(t testing.TB) *store.Store {
	t.Helper()
	s := OpenSQLiteUnmigrated(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return s
}

// OpenSQLiteUnmigrated is OpenSQLite without the migrations.
func OpenSQLiteUnmigrated(t testing.TB) *store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mashangban.db")
	// Durability against power loss is no part of any test; without the
	// fsync per commit the suites run several times faster.
	s, err := store.Open(context.Background(), "sqlite:"+path+"?_pragma=synchronous(OFF)", logger())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenPostgres returns a migrated store on a new schema of the
// TEST_DATABASE_URL database, dropped at cleanup. It skips the test when the
// variable is unset, or fails it if MSB_REQUIRE_POSTGRES=1.
func OpenPostgres(t testing.TB) *store.Store {
	t.Helper()
	s := OpenPostgresUnmigrated(t)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return s
}

// OpenPostgresUnmigrated is OpenPostgres without the migrations.
func OpenPostgresUnmigrated(t testing.TB) *store.Store {
	t.Helper()
	u := PostgresURL(t)
	schema := newSchema(t, u)
	s, err := store.Open(context.Background(), withSearchPath(t, u, schema), logger())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresURL returns TEST_DATABASE_URL, skipping (or failing, see
// EnvRequire) when it is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s is not set and %s=1", EnvURL, EnvRequire)
		}
		t.Skipf("%s is not set: skipping the PostgreSQL half", EnvURL)
	}
	return u
}

// newSchema creates a uniquely named schema and drops it at cleanup.
func newSchema(t testing.TB, u string) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "msb_test_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// withSearchPath adds search_path=schema to u; pgx sends unknown URL
// parameters as run-time parameters at connect, so every pooled connection
// starts in the test's schema.
func withSearchPath(t testing.TB, u, schema string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

func logger() *slog.Logger {
	if os.Getenv("MSB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
