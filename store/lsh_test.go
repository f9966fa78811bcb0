package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

var lightProbe = store.RepeatProbe{District: "340503", SimHash: -42, Tokens: []string{"路灯", "坏"}, Place: "compound:翠湖小区", Category: "路灯"}

func candidateIDs(t *testing.T, s *store.Store, p store.RepeatProbe, since time.Time) []int64 {
	t.Helper()
	cands, err := s.RepeatCandidates(context.Background(), nil, p, since, 500)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, c := range cands {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestRepeatIndexFollowsStatus: a resolved case is no repeat candidate, a
// reopened one is again; a post of another district, or about another
// problem elsewhere, finds nothing.
func TestRepeatIndexFollowsStatus(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
		id := seedCase(t, s, nil, "MSB-20261126-0001", "340503", t0)
		since := t0.Add(-time.Hour)
		if got := candidateIDs(t, s, lightProbe, since); len(got) != 1 || got[0] != id {
			t.Fatalf("candidates of the open case = %v, want [%d]", got, id)
		}
		other := lightProbe
		other.District = "340504"
		if got := candidateIDs(t, s, other, since); len(got) != 0 {
			t.Errorf("a post of another district found %v", got)
		}
		unrelated := store.RepeatProbe{District: "340503", SimHash: 0x0f0f0f0f0f0f0f0f, Tokens: []string{"噪音", "扰民", "烧烤"}, Place: "landmark:金鹰天地"}
		if got := candidateIDs(t, s, unrelated, since); len(got) != 0 {
			t.Errorf("a post about another problem elsewhere found %v", got)
		}
		otherCategory := store.RepeatProbe{District: "340503", SimHash: 0x0f0f0f0f0f0f0f0f, Tokens: []string{"垃圾", "堆积"}, Place: "compound:翠湖小区", Category: "环卫"}
		if got := candidateIDs(t, s, otherCategory, since); len(got) != 0 {
			t.Errorf("a post about another category at the same place found %v", got)
		}
		otherCategory.Category = "" // unknown: the same place is enough to compare
		if got := candidateIDs(t, s, otherCategory, since); len(got) != 1 || got[0] != id {
			t.Errorf("a post of unknown category at the same place found %v, want [%d]", got, id)
		}
		if err := s.SetCaseStatus(ctx, nil, id, model.CaseResolved, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := candidateIDs(t, s, lightProbe, since); len(got) != 0 {
			t.Errorf("candidates after resolving = %v, want none", got)
		}
		if n := countRows(t, s, `SELECT count(*) FROM case_lsh WHERE case_id = $1`, id); n != 0 {
			t.Errorf("a resolved case keeps %d index rows", n)
		}
		if err := s.SetCaseStatus(ctx, nil, id, model.CaseOpen, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := candidateIDs(t, s, lightProbe, since); len(got) != 1 || got[0] != id {
			t.Errorf("candidates after reopening = %v, want [%d]", got, id)
		}
		if got := candidateIDs(t, s, lightProbe, t0.Add(time.Minute)); len(got) != 0 {
			t.Errorf("a case older than the window found: %v", got)
		}
	})
}

func countRows(t *testing.T, s *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestMigrationIndexesOpenCases: migration 0005 indexes the cases that are
// open when it runs, and only those.
func TestMigrationIndexesOpenCases(t *testing.T) {
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
			for v, name := range []string{"0001_init", "0002_dispatch", "0003_deadletter_source", "0004_web_sessions"} {
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
			t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
			for _, c := range []struct{ no, status string }{{"MSB-20261126-0001", "open"}, {"MSB-20261126-0002", "resolved"}} {
				if _, err := s.DB.Exec(ctx, `
					INSERT INTO cases (case_no, status, district, first_post_id, simhash, tokens, place, created_at, updated_at)
					VALUES ($1, $2, '340503', $3, -42, '["路灯","坏"]', 'compound:翠湖小区', $4, $4)`, c.no, c.status, "replay:"+c.no, t0); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			cands, err := s.RepeatCandidates(ctx, nil, lightProbe, t0.Add(-time.Hour), 500)
			if err != nil {
				t.Fatal(err)
			}
			if len(cands) != 1 || cands[0].No != "MSB-20261126-0001" {
				t.Errorf("candidates after migration = %+v, want only the open case", cands)
			}
			if n := countRows(t, s, `SELECT count(*) FROM case_lsh l JOIN cases c ON c.id = l.case_id WHERE c.status <> 'open'`); n != 0 {
				t.Errorf("resolved case has %d index rows", n)
			}
		})
	}
}
