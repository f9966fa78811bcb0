package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// TestPermanentErrors provokes real errors on both databases and checks
// which ones Permanent says retrying cannot fix.
func TestPermanentErrors(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		insert := `INSERT INTO dead_letters (stage, source, key, reason, created_at) VALUES ($1, '', 'k', 'r', $2)`
		if _, err := s.DB.Exec(ctx, insert, "x", time.Now()); err != nil {
			t.Fatal(err)
		}
		_, dup := s.DB.Exec(ctx, insert, "x", time.Now())
		_, syntax := s.DB.Exec(ctx, `SELEC 1`)
		_, notNull := s.DB.Exec(ctx, `INSERT INTO dead_letters (stage, source, key, reason, created_at) VALUES (NULL, '', 'k', 'r', $1)`, time.Now())
		permanent := map[string]error{"unique violation": dup, "syntax error": syntax, "not null violation": notNull}
		if s.DB.Dialect() == store.Postgres {
			_, nul := s.DB.Exec(ctx, insert, "nul\x00", time.Now())
			permanent["NUL in text"] = nul
		}
		for name, err := range permanent {
			if err == nil {
				t.Errorf("%s: no error", name)
				continue
			}
			if !store.Permanent(err) || !store.Permanent(fmt.Errorf("dispatch: %w", err)) {
				t.Errorf("%s: Permanent(%v) = false, want true", name, err)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, canceled := s.DB.Exec(cctx, `SELECT 1`)
		for _, err := range []error{canceled, store.ErrNotFound, errors.New("connection reset by peer")} {
			if store.Permanent(err) {
				t.Errorf("Permanent(%v) = true, want false", err)
			}
		}
	})
}

// TestTransientPostgresErrors: the SQLSTATEs that a later try can succeed
// after are not permanent, and neither is a refused connection.
func TestTransientPostgresErrors(t *testing.T) {
	for _, code := range []string{"40001", "40P01", "57P01", "53300", "08006", "55P03"} {
		if err := fmt.Errorf("commit: %w", &pgconn.PgError{Code: code}); store.Permanent(err) {
			t.Errorf("Permanent(SQLSTATE %s) = true", code)
		}
	}
	for _, code := range []string{"22021", "22P02", "23505", "23503", "42P01", "54000"} {
		if err := fmt.Errorf("insert: %w", &pgconn.PgError{Code: code}); !store.Permanent(err) {
			t.Errorf("Permanent(SQLSTATE %s) = false", code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", nil)
	if err == nil {
		t.Fatal("open on a closed port: no error")
	}
	if store.Permanent(err) {
		t.Errorf("Permanent(%v) = true for a refused connection", err)
	}
}
