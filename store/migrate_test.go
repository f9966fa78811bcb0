package store_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	names := map[string][]string{}
	for _, d := range []string{"postgres", "sqlite"} {
		err := filepath.WalkDir(filepath.Join("migrations", d), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			names[d] = append(names[d], e.Name())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(names["postgres"]) == 0 || !reflect.DeepEqual(names["postgres"], names["sqlite"]) {
		t.Errorf("migration files differ:\npostgres %v\nsqlite   %v", names["postgres"], names["sqlite"])
	}
}

func TestMigrate(t *testing.T) {
	for _, open := range []struct {
		name string
		fn   func(testing.TB) *store.Store
	}{
		{"sqlite", storetest.OpenSQLiteUnmigrated},
		{"postgres", storetest.OpenPostgresUnmigrated},
	} {
		t.Run(open.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := open.fn(t)
			cur, latest, err := s.SchemaVersion(ctx)
			if err != nil || cur != 0 || latest < 1 {
				t.Fatalf("SchemaVersion of an empty database = %d, %d, %v", cur, latest, err)
			}
			err = s.CheckSchema(ctx)
			if !errors.Is(err, store.ErrSchemaOutdated) || !strings.Contains(err.Error(), "run `mashangban migrate`") {
				t.Errorf("CheckSchema(empty) = %v, want ErrSchemaOutdated telling to migrate", err)
			}

			// Several migrators at once, as when replicas start together.
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() { errs[i] = s.Migrate(ctx) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("concurrent Migrate: %v", err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			var applied int
			if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
				t.Fatal(err)
			}
			if applied != latest {
				t.Errorf("%d rows in schema_migrations, want %d", applied, latest)
			}
			if err := s.CheckSchema(ctx); err != nil {
				t.Errorf("CheckSchema after Migrate: %v", err)
			}

			// A newer mashangban migrated this database.
			if _, err := s.DB.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', $2)`, latest+1, s.Now()); err != nil {
				t.Fatal(err)
			}
			for name, err := range map[string]error{"CheckSchema": s.CheckSchema(ctx), "Migrate": s.Migrate(ctx)} {
				if !errors.Is(err, store.ErrSchemaAhead) || errors.Is(err, store.ErrSchemaOutdated) {
					t.Errorf("%s on a newer schema = %v, want ErrSchemaAhead", name, err)
				}
			}
		})
	}
}

func TestCheckSchemaOutdatedMessage(t *testing.T) {
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	_, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Roll the recorded version back to 1 (as if this binary were newer).
	if _, err := s.DB.Exec(ctx, `DELETE FROM schema_migrations WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	if latest == 1 {
		if _, err := s.DB.Exec(ctx, `DELETE FROM schema_migrations`); err != nil {
			t.Fatal(err)
		}
	}
	err = s.CheckSchema(ctx)
	if !errors.Is(err, store.ErrSchemaOutdated) {
		t.Fatalf("CheckSchema = %v, want ErrSchemaOutdated", err)
	}
	cur, _, _ := s.SchemaVersion(ctx)
	want := "database schema is at version " + strconv.Itoa(cur) + ", this mashangban needs " + strconv.Itoa(latest) + ": run `mashangban migrate` or start with --db.migrate"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("CheckSchema = %q, want it to contain %q", err, want)
	}
}

// TestMigrationKeepsDeadLetters: migration 0003 rekeys dead letters by
// (stage, source, key) and keeps every letter stored before it.
func TestMigrationKeepsDeadLetters(t *testing.T) {
	for _, open := range []struct {
		name string
		fn   func(testing.TB) *store.Store
	}{{"sqlite", storetest.OpenSQLiteUnmigrated}, {"postgres", storetest.OpenPostgresUnmigrated}} {
		t.Run(open.name, func(t *testing.T) {
			ctx := context.Background()
			s := open.fn(t)
			dialect := string(s.DB.Dialect())
			applied := `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`
			if dialect == "postgres" {
				applied = strings.Replace(applied, "applied_at TEXT", "applied_at TIMESTAMPTZ", 1)
			}
			if _, err := s.DB.Exec(ctx, applied); err != nil {
				t.Fatal(err)
			}
			for v, name := range []string{"0001_init", "0002_dispatch"} {
				b, err := os.ReadFile(filepath.Join("migrations", dialect, name+".sql"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.DB.Exec(ctx, string(b)); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if _, err := s.DB.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, v+1, name, s.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.AddDeadLetter(ctx, store.DeadLetter{Stage: "ingest", Source: "a", Key: "line:1", Reason: "before"}); err == nil {
				t.Fatal("the old schema took a letter keyed by source: is migration 0003 already applied?")
			}
			if _, err := s.DB.Exec(ctx, `INSERT INTO dead_letters (stage, source, key, reason, raw, created_at) VALUES ('ingest', 'a', 'line:1', 'kept', $1, $2)`, []byte{1, 2}, s.Now()); err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.AddDeadLetter(ctx, store.DeadLetter{Stage: "ingest", Source: "b", Key: "line:1", Reason: "other source"}); err != nil {
				t.Fatal(err)
			}
			got, err := s.ListDeadLetters(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			for _, d := range got {
				reasons = append(reasons, d.Source+":"+d.Reason)
			}
			sort.Strings(reasons)
			if strings.Join(reasons, ",") != "a:kept,b:other source" {
				t.Errorf("dead letters after migration: %q", reasons)
			}
		})
	}
}
