package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestWebSessions(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		live := store.WebSession{IDHash: "aa", Actor: "cgj", Role: store.RoleDepartment, CSRF: "c1", CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
		old := store.WebSession{IDHash: "bb", Actor: "duty", Role: store.RoleOffice, CSRF: "c2", CreatedAt: t0.Add(-24 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}
		for _, ws := range []store.WebSession{live, old} {
			if err := s.CreateWebSession(ctx, ws); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateWebSession(ctx, live); err == nil {
			t.Error("a second session with the same token hash was accepted")
		}
		got, err := s.WebSessionByHash(ctx, "aa", t0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Actor != "cgj" || got.Role != store.RoleDepartment || got.CSRF != "c1" || !got.ExpiresAt.Equal(live.ExpiresAt.Truncate(time.Microsecond)) {
			t.Errorf("session = %+v, want %+v", got, live)
		}
		if _, err := s.WebSessionByHash(ctx, "aa", live.ExpiresAt); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session at its expiry: %v, want ErrNotFound", err)
		}
		if _, err := s.WebSessionByHash(ctx, "bb", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired session: %v, want ErrNotFound", err)
		}
		n, err := s.DeleteExpiredWebSessions(ctx, t0)
		if err != nil || n != 1 {
			t.Errorf("DeleteExpiredWebSessions = %d, %v; want 1", n, err)
		}
		if err := s.DeleteWebSession(ctx, "aa"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WebSessionByHash(ctx, "aa", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session after sign-out: %v, want ErrNotFound", err)
		}
		if err := s.DeleteWebSession(ctx, "aa"); err != nil {
			t.Errorf("second sign-out: %v", err)
		}
	})
}
