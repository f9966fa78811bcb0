package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

var t0 = time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC)

func seedCase(t *testing.T, s *store.Store, tx store.Querier, no, district string, at time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := s.InsertCase(ctx, tx, store.NewCase{
		Case: model.Case{No: no, Status: model.CaseOpen, Districts: []model.District{{Code: district, Name: "花山区"}},
			Category: "路灯", Priority: model.PriorityNormal, Lead: "cgj", Summary: "路灯坏了", FirstPostID: "replay:" + no,
			RuleSetVersion: "r1", CreatedAt: at},
		District: district, SimHash: -42, Tokens: []string{"路灯", "坏"}, Place: "compound:翠湖小区",
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AddCasePost(ctx, tx, store.CasePost{PostID: "replay:" + no, CaseID: id, Role: store.CasePostOrigin, MergedAt: at}); err != nil || !ok {
		t.Fatalf("add origin post: %v %v", ok, err)
	}
	return id
}

func TestCasesRoundTrip(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for want := int64(1); want <= 3; want++ {
			got, err := s.NextCounter(ctx, nil, "case:20261126")
			if err != nil || got != want {
				t.Fatalf("NextCounter = %d, %v; want %d", got, err, want)
			}
		}
		id := seedCase(t, s, nil, "MSB-20261126-0001", "340503", t0)
		old := seedCase(t, s, nil, "MSB-20261101-0001", "340503", t0.Add(-20*24*time.Hour))
		seedCase(t, s, nil, "MSB-20261126-0002", "340504", t0)

		probe := store.RepeatProbe{District: "340503", SimHash: -42, Tokens: []string{"路灯", "坏"}, Place: "compound:翠湖小区"}
		cands, err := s.RepeatCandidates(ctx, nil, probe, t0.Add(-7*24*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(cands) != 1 || cands[0].ID != id || cands[0].SimHash != -42 || len(cands[0].Tokens) != 2 || !cands[0].CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
			t.Fatalf("candidates = %+v, want only case %d with its fingerprint", cands, id)
		}
		if ok, _ := s.AddCasePost(ctx, nil, store.CasePost{PostID: "replay:MSB-20261126-0001", CaseID: old, Role: store.CasePostRepeat, MergedAt: t0}); ok {
			t.Fatal("a post went into a second case")
		}
		if ok, err := s.AddCasePost(ctx, nil, store.CasePost{PostID: "weibo:2", CaseID: id, Role: store.CasePostRepeat, Score: 0.5, MergedAt: t0}); !ok || err != nil {
			t.Fatalf("add repeat: %v %v", ok, err)
		}
		handled, err := s.PostHandled(ctx, nil, "weibo:2")
		if err != nil || !handled {
			t.Fatalf("PostHandled = %v, %v", handled, err)
		}
		c, err := s.GetCaseByNo(ctx, nil, "MSB-20261126-0001")
		if err != nil {
			t.Fatal(err)
		}
		if len(c.PostIDs) != 2 || c.Districts[0].Code != "340503" || c.Status != model.CaseOpen {
			t.Fatalf("case = %+v", c)
		}
		if moved, err := s.MoveCasePost(ctx, nil, "weibo:2", id, old, t0); !moved || err != nil {
			t.Fatalf("move: %v %v", moved, err)
		}
		if moved, _ := s.MoveCasePost(ctx, nil, "weibo:2", id, old, t0); moved {
			t.Fatal("moved twice")
		}
		cp, err := s.GetCasePost(ctx, nil, "weibo:2")
		if err != nil || cp.CaseID != old || cp.Role != store.CasePostOrigin || cp.UnmergedFrom == nil || *cp.UnmergedFrom != id {
			t.Fatalf("moved entry = %+v, %v", cp, err)
		}
		if err := s.SetCaseStatus(ctx, nil, id, model.CaseResolved, t0); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListCases(ctx, store.CaseFilter{Status: model.CaseOpen})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != old || len(list[0].PostIDs) != 2 {
			t.Fatalf("open cases = %+v", list)
		}
		if _, err := s.GetCaseByNo(ctx, nil, "MSB-nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown case: %v, want ErrNotFound", err)
		}
	})
}
