package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// reportCase is a case of the report queries' seeded weeks: its posts are
// placed at the given times, the first as the origin.
type reportCase struct {
	no, category, district, districtName, place string
	posts                                       []time.Time
}

func seedReportCase(t *testing.T, s *store.Store, c reportCase) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := s.InsertCase(ctx, nil, store.NewCase{
		Case: model.Case{No: c.no, Status: model.CaseOpen, Districts: []model.District{{Code: c.district, Name: c.districtName}},
			Category: c.category, Priority: model.PriorityNormal, Lead: "cgj", Summary: "群众反映" + c.no,
			FirstPostID: "replay:" + c.no, CreatedAt: c.posts[0]},
		District: c.district, Place: c.place,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range c.posts {
		role, post := store.CasePostOrigin, "replay:"+c.no
		if i > 0 {
			role, post = store.CasePostRepeat, fmt.Sprintf("replay:%s-%d", c.no, i)
		}
		if ok, err := s.AddCasePost(ctx, nil, store.CasePost{PostID: post, CaseID: id, Role: role, MergedAt: at}); err != nil || !ok {
			t.Fatalf("add post %s: %v %v", post, ok, err)
		}
	}
	return id
}

func TestReportQueries(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		from := time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC) // Monday 2026-11-23 00:00 in Shanghai
		to, prev := from.AddDate(0, 0, 7), from.AddDate(0, 0, -7)
		day := func(d float64) time.Time { return from.Add(time.Duration(d * 24 * float64(time.Hour))) }
		ids := map[string]int64{}
		for _, c := range []reportCase{
			{"A", "路灯", "340503", "花山区", "compound:翠湖小区", []time.Time{day(0), day(1), day(6.9)}},
			{"B", "路灯", "340504", "雨山区", "", []time.Time{day(-3), day(2)}},
			{"C", "噪音", "340503", "花山区", "landmark:大华广场", []time.Time{day(3)}},
			{"D", "噪音", "340503", "花山区", "", []time.Time{to}}, // the next week's first instant
			{"E", "噪音", "340504", "雨山区", "", []time.Time{day(-7)}},
		} {
			ids[c.no] = seedReportCase(t, s, c)
		}

		t.Run("totals", func(t *testing.T) {
			for _, tt := range []struct {
				from time.Time
				want store.WeekTotals
			}{
				{from, store.WeekTotals{Posts: 5, Repeats: 3, NewCases: 2}},
				{prev, store.WeekTotals{Posts: 2, Repeats: 0, NewCases: 2}},
			} {
				got, err := s.WeekTotals(ctx, tt.from, tt.from.AddDate(0, 0, 7))
				if err != nil || got != tt.want {
					t.Errorf("WeekTotals(%s) = %+v, %v; want %+v", tt.from, got, err, tt.want)
				}
			}
		})

		t.Run("tally", func(t *testing.T) {
			for _, tt := range []struct {
				by    store.TallyBy
				limit int
				want  string
			}{
				{store.ByCategory, 0, "路灯 4/2 噪音 1/1"},
				{store.ByCategory, 1, "路灯 4/2"},
				{store.ByDistrict, 0, "340503 4/2 340504 1/1"},
				{store.ByPlace, 0, "compound:翠湖小区 3/1 landmark:大华广场 1/1"},
			} {
				got, err := s.WeekTally(ctx, from, to, tt.by, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				line := ""
				for i, x := range got {
					if i > 0 {
						line += " "
					}
					line += fmt.Sprintf("%s %d/%d", x.Key, x.Posts, x.Cases)
					if tt.by == store.ByDistrict {
						var ds []model.District
						if err := json.Unmarshal([]byte(x.Districts), &ds); err != nil || len(ds) != 1 || ds[0].Code != x.Key {
							t.Errorf("district %s names %q (%v)", x.Key, x.Districts, err)
						}
					}
				}
				if line != tt.want {
					t.Errorf("WeekTally(%s, %d) = %q, want %q", tt.by, tt.limit, line, tt.want)
				}
			}
			if _, err := s.WeekTally(ctx, from, to, "summary; DROP TABLE cases", 0); err == nil {
				t.Error("an unknown grouping was accepted")
			}
		})

		t.Run("repeated", func(t *testing.T) {
			got, err := s.RepeatedCases(ctx, from, to, 0)
			if err != nil {
				t.Fatal(err)
			}
			line := ""
			for _, c := range got {
				line += fmt.Sprintf("%s:%d/%d:%s:%s ", c.CaseNo, c.Repeats, c.Posts, c.Category, c.Place)
			}
			if want := "A:2/3:路灯:compound:翠湖小区 B:1/2:路灯: "; line != want {
				t.Errorf("RepeatedCases = %q, want %q", line, want)
			}
		})

		t.Run("exposed", func(t *testing.T) {
			asOf := to.Add(9 * time.Hour)
			type plan struct {
				caseNo, dept string
				created      time.Time
				to           model.AssignmentState // reached at created+1h
				notices      map[string]time.Time  // kind → issued at
			}
			h := func(t time.Time, n float64) time.Time { return t.Add(time.Duration(n * float64(time.Hour))) }
			plans := []plan{
				{"A", "cgj", day(0), model.AssignmentPending, nil},                                               // claim deadline long past: overdue
				{"C", "ldj", day(3), model.AssignmentResolved, map[string]time.Time{store.NoticeOrange: day(6)}}, // an orange card in the week
				{"C", "gas", day(3), model.AssignmentResolved, map[string]time.Time{store.NoticeYellow: day(4)}}, // only yellow, done: not exposed
				{"B", "fire", day(6), model.AssignmentReplied, map[string]time.Time{store.NoticeRed: day(-1)}},   // red last week, on time now
				{"E", "cgj", day(-7), model.AssignmentClaimed, map[string]time.Time{store.NoticeRed: day(1)}},    // red in the week, reply overdue
				{"D", "gas", to, model.AssignmentPending, nil},                                                   // claim deadline after asOf
			}
			for _, p := range plans {
				a := store.Assignment{Assignment: model.Assignment{CaseID: ids[p.caseNo], Department: p.dept, Role: model.RoleLead,
					State: model.AssignmentPending, PolicyVersion: "v", CreatedAt: p.created,
					ClaimBy: h(p.created, 24), ReplyBy: h(p.created, 72), CloseBy: h(p.created, 168)}}
				id, err := s.InsertAssignment(ctx, nil, a)
				if err != nil {
					t.Fatal(err)
				}
				if p.to != model.AssignmentPending {
					if ok, err := s.TransitionAssignment(ctx, nil, id, []model.AssignmentState{model.AssignmentPending}, p.to, h(p.created, 1)); !ok || err != nil {
						t.Fatalf("transition: %v %v", ok, err)
					}
				}
				for kind, at := range p.notices {
					if _, err := s.InsertNotice(ctx, nil, store.Notice{AssignmentID: id, Kind: kind, Deadline: at.Add(-time.Hour), Department: p.dept, IssuedAt: at}); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := s.ExposedAssignments(ctx, from, to, asOf)
			if err != nil {
				t.Fatal(err)
			}
			line := ""
			for _, e := range got {
				line += fmt.Sprintf("%s/%s/%s o%d r%d; ", e.CaseNo, e.Department, e.State, e.Orange, e.Red)
				if e.Summary != "群众反映"+e.CaseNo {
					t.Errorf("%s summary = %q", e.CaseNo, e.Summary)
				}
				if e.State == "resolved" && (e.ResolvedAt == nil || !e.ResolvedAt.Equal(day(3).Add(time.Hour))) {
					t.Errorf("%s resolved at %v", e.CaseNo, e.ResolvedAt)
				}
			}
			if want := "A/cgj/pending o0 r0; C/ldj/resolved o1 r0; E/cgj/claimed o0 r1; "; line != want {
				t.Errorf("ExposedAssignments =\n %s\nwant\n %s", line, want)
			}
		})
	})
}
