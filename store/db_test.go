package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// createTimes makes a table with a nullable time and a boolean, in each
// dialect's spelling: the recipe dispatch's migrations follow.
func createTimes(t *testing.T, s *store.Store) {
	t.Helper()
	ddl := `CREATE TABLE times (id INTEGER PRIMARY KEY, at TEXT, flag INTEGER NOT NULL DEFAULT 0, body TEXT)`
	if s.DB.Dialect() == store.Postgres {
		ddl = `CREATE TABLE times (id INTEGER PRIMARY KEY, at TIMESTAMPTZ, flag BOOLEAN NOT NULL DEFAULT FALSE, body TEXT)`
	}
	if _, err := s.DB.Exec(context.Background(), ddl); err != nil {
		t.Fatal(err)
	}
}

func TestTimeRoundTrip(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	values := []time.Time{
		time.Date(2026, 11, 26, 9, 0, 0, 123456789, cst),
		time.Date(2026, 11, 26, 1, 0, 0, 999, time.UTC), // below a microsecond: truncated
		time.Date(2026, 11, 26, 1, 0, 0, 1000, time.UTC),
		time.Date(2026, 11, 26, 1, 0, 0, 500000000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		createTimes(t, s)
		for i, v := range values {
			if _, err := s.DB.Exec(ctx, `INSERT INTO times (id, at) VALUES ($1, $2)`, i, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.DB.Exec(ctx, `INSERT INTO times (id, at) VALUES ($1, $2)`, 100, (*time.Time)(nil)); err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			var got time.Time
			var gotp *time.Time
			if err := s.DB.QueryRow(ctx, `SELECT at, at FROM times WHERE id = $1`, i).Scan(&got, &gotp); err != nil {
				t.Fatal(err)
			}
			want := v.Truncate(time.Microsecond)
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("time %d: got %v (%v), want %v in UTC", i, got, got.Location(), want)
			}
			if gotp == nil || !gotp.Equal(want) || gotp.Location() != time.UTC {
				t.Errorf("*time %d: got %v, want %v in UTC", i, gotp, want)
			}
		}
		var null *time.Time = &time.Time{}
		if err := s.DB.QueryRow(ctx, `SELECT at FROM times WHERE id = 100`).Scan(&null); err != nil || null != nil {
			t.Errorf("NULL time: got %v, %v; want nil", null, err)
		}
		var zero time.Time
		if err := s.DB.QueryRow(ctx, `SELECT at FROM times WHERE id = 100`).Scan(&zero); err == nil {
			t.Error("NULL into time.Time: no error")
		}

		// Comparisons order times, whatever zone the argument is in.
		pivots := []time.Time{
			time.Date(2026, 11, 26, 1, 0, 0, 1000, time.UTC).In(cst),
			time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC),
			time.Date(2026, 11, 26, 9, 0, 0, 123456000, cst),
			time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		for _, p := range pivots {
			want := 0
			for _, v := range values {
				if v.Truncate(time.Microsecond).Before(p) {
					want++
				}
			}
			var n int
			if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM times WHERE at < $1`, p).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("count(at < %v) = %d, want %d", p, n, want)
			}
		}
		var lo, hi time.Time
		if err := s.DB.QueryRow(ctx, `SELECT MIN(at), MAX(at) FROM times`).Scan(&lo, &hi); err != nil {
			t.Fatal(err)
		}
		if !lo.Equal(values[4]) || !hi.Equal(values[5]) {
			t.Errorf("MIN, MAX = %v, %v; want %v, %v", lo, hi, values[4], values[5])
		}
	})
}

func TestValueTypes(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		createTimes(t, s)
		body := json.RawMessage(`{"a":[1,2],"b":"马"}`)
		if _, err := s.DB.Exec(ctx, `INSERT INTO times (id, flag, body) VALUES ($1, $2, $3)`, 1, true, body); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB.Exec(ctx, `INSERT INTO times (id, flag, body) VALUES ($1, $2, $3)`, 2, false, json.RawMessage(nil)); err != nil {
			t.Fatal(err)
		}
		var (
			flag  bool
			raw   json.RawMessage
			bytes []byte
			str   string
		)
		if err := s.DB.QueryRow(ctx, `SELECT flag, body, body, body FROM times WHERE id = $1 AND flag = TRUE`, 1).Scan(&flag, &raw, &bytes, &str); err != nil {
			t.Fatal(err)
		}
		if !flag || string(raw) != string(body) || string(bytes) != string(body) || str != string(body) {
			t.Errorf("got %v, %s, %s, %s", flag, raw, bytes, str)
		}
		raw = json.RawMessage("x")
		if err := s.DB.QueryRow(ctx, `SELECT flag, body FROM times WHERE id = $1`, 2).Scan(&flag, &raw); err != nil {
			t.Fatal(err)
		}
		if flag || raw != nil {
			t.Errorf("got %v, %q; want false, nil", flag, raw)
		}
		// Named string types (model.Channel) bind as their strings.
		var n int
		if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM times WHERE $1 = 'weibo'`, model.ChannelWeibo).Scan(&n); err != nil || n != 2 {
			t.Errorf("named string arg: %d, %v", n, err)
		}
	})
}

func TestPlaceholders(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		var lit, quoted, second, first, again string
		err := s.DB.QueryRow(ctx, `
			SELECT 'costs $1, it''s $2' AS "a$1", -- a comment with $1 and 'a quote
			       'x' || $2, $2, $1, /* $3 */ $1`, "one", "two").Scan(&lit, &quoted, &second, &first, &again)
		if err != nil {
			t.Fatal(err)
		}
		if lit != "costs $1, it's $2" || quoted != "xtwo" || second != "two" || first != "one" || again != "one" {
			t.Errorf("got %q %q %q %q %q", lit, quoted, second, first, again)
		}
	})
}

func TestQueryRowNotFound(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		var id string
		err := s.DB.QueryRow(ctx, `SELECT post_id FROM posts WHERE post_id = $1`, "none").Scan(&id)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("pool: error %v, want ErrNotFound", err)
		}
		err = s.DB.InTx(ctx, func(tx store.Tx) error {
			return tx.QueryRow(ctx, `SELECT post_id FROM posts WHERE post_id = $1`, "none").Scan(&id)
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tx: error %v, want ErrNotFound", err)
		}
		// Query of nothing is no error, just no rows.
		rows, err := s.DB.Query(ctx, `SELECT post_id FROM posts`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if rows.Next() {
			t.Error("rows from an empty table")
		}
		if err := rows.Err(); err != nil {
			t.Error(err)
		}
	})
}

func TestInTx(t *testing.T) {
	errBoom := errors.New("boom")
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		err := s.DB.InTx(ctx, func(tx store.Tx) error {
			if _, err := s.InsertPost(ctx, tx, samplePost("weibo:rolledback")); err != nil {
				return err
			}
			if _, err := s.AppendEvent(ctx, tx, store.Event{Kind: "k", DedupKey: "rolledback"}); err != nil {
				return err
			}
			// Visible inside the transaction.
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM posts WHERE post_id = $1`, "weibo:rolledback").Scan(&n); err != nil || n != 1 {
				return fmt.Errorf("inside: %d, %v", n, err)
			}
			return fmt.Errorf("wrapped: %w", errBoom)
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("InTx error = %v, want errBoom", err)
		}
		if _, err := s.GetPost(ctx, "weibo:rolledback"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("post after rollback: %v, want ErrNotFound", err)
		}
		if ins, err := s.AppendEvent(ctx, nil, store.Event{Kind: "k", DedupKey: "rolledback"}); err != nil || !ins {
			t.Errorf("dedup key after rollback: %v, %v; want it free", ins, err)
		}

		if err := s.DB.InTx(ctx, func(tx store.Tx) error {
			_, err := s.InsertPost(ctx, tx, samplePost("weibo:committed"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetPost(ctx, "weibo:committed"); err != nil {
			t.Errorf("post after commit: %v", err)
		}

		calls := 0
		if err := s.DB.InTx(ctx, func(tx store.Tx) error { calls++; return errBoom }); !errors.Is(err, errBoom) || calls != 1 {
			t.Errorf("plain error: %v after %d calls, want errBoom after 1", err, calls)
		}
	})
}

func TestInTxRetriesSerializationFailure(t *testing.T) {
	s := storetest.OpenPostgres(t)
	ctx := context.Background()
	for _, code := range []string{"40001", "40P01"} {
		calls := 0
		err := s.DB.InTx(ctx, func(tx store.Tx) error {
			calls++
			if calls < 3 {
				return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code, Message: "conflict"})
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Errorf("code %s: %v after %d calls; want nil after 3", code, err, calls)
		}
	}
	calls := 0
	err := s.DB.InTx(ctx, func(tx store.Tx) error {
		calls++
		return &pgconn.PgError{Code: "40001"}
	})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || calls < 2 || calls > 10 {
		t.Errorf("endless conflict: %v after %d calls; want the error after a bounded number", err, calls)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url string
		want      []string // substrings of the error
	}{
		{"empty", "", []string{"no database url"}},
		{"unknown scheme", "mysql://root@localhost/db", []string{`unsupported url scheme "mysql"`}},
		{"postgres unreachable", "postgres://postgres:s3cret@127.0.0.1:5999/x?sslmode=disable&connect_timeout=5",
			[]string{"open database: cannot reach postgres at 127.0.0.1:5999"}},
		{"postgres bad url", "postgres://postgres:s3cret@127.0.0.1:notaport/x", []string{"cannot parse postgres url"}},
		{"sqlite no path", "sqlite:", []string{"names no file"}},
		{"sqlite memory", "sqlite::memory:", []string{"in-memory"}},
		{"sqlite dir is a file", "sqlite:" + filepath.Join(notADir, "sub", "m.db"), []string{"cannot create sqlite directory", notADir}},
		{"sqlite not a database", "sqlite:" + garbage, []string{garbage, "not a database"}},
		{"sqlite bad driver option", "sqlite:" + filepath.Join(dir, "ok.db") + "?_time_format=weird", []string{"_time_format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(context.Background(), tt.url, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): no error", tt.url)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestOpenSQLiteURLForms(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "a", "m.db")
	odd := filepath.Join(dir, "马 鞍山%20#x", "m.db")
	for _, u := range []string{"sqlite:" + abs, "sqlite://" + abs, "file:" + abs, "sqlite://" + abs + "?_pragma=cache_size(-2000)", "sqlite:" + odd} {
		abs := abs
		if strings.HasSuffix(u, odd) {
			abs = odd
		}
		s, err := store.Open(context.Background(), u, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("Migrate(%q): %v", u, err)
		}
		s.Close()
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("Open(%q) made no file at %s: %v", u, abs, err)
		}
	}
}

func TestConcurrentReadersAndWriters(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 4 {
			wg.Go(func() {
				for i := range 20 {
					err := s.DB.InTx(ctx, func(tx store.Tx) error {
						if _, err := s.InsertPost(ctx, tx, samplePost(fmt.Sprintf("weibo:%d%03d", w, i))); err != nil {
							return err
						}
						_, err := s.AppendEvent(ctx, tx, store.Event{Kind: "post.inserted", PostID: fmt.Sprint(w, i)})
						return err
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
			wg.Go(func() {
				for range 20 {
					if _, err := s.ListEvents(ctx, store.EventFilter{Limit: 10}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		evs, err := s.ListEvents(ctx, store.EventFilter{Kind: "post.inserted"})
		if err != nil || len(evs) != 80 {
			t.Errorf("%d events, %v; want 80", len(evs), err)
		}
	})
}

func TestIsUniqueViolation(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		q := `INSERT INTO source_cursors (source, query, cursor, updated_at) VALUES ($1, '', '', $2)`
		if _, err := s.DB.Exec(ctx, q, "a", s.Now()); err != nil {
			t.Fatal(err)
		}
		_, err := s.DB.Exec(ctx, q, "a", s.Now())
		if err == nil || !store.IsUniqueViolation(err) {
			t.Errorf("duplicate key: IsUniqueViolation(%v) = false", err)
		}
		_, err = s.DB.Exec(ctx, `INSERT INTO source_cursors (source) VALUES ($1)`, "b")
		if err == nil || store.IsUniqueViolation(err) {
			t.Errorf("NOT NULL violation: IsUniqueViolation(%v) = true", err)
		}
	})
}
