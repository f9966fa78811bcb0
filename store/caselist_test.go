package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestListCasesPage(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		huashan := model.District{Code: "340503", Name: "花山区"}
		yushan := model.District{Code: "340504", Name: "雨山区"}
		type seed struct {
			dists    []model.District
			category string
			lead     string
			summary  string
			status   model.CaseStatus
		}
		seeds := []seed{
			{[]model.District{huashan}, "streetlight", "cgj", "翠湖小区门口路灯坏了", model.CaseOpen},
			{[]model.District{yushan}, "noise", "sthjj", "广场舞100%扰民 LOUD", model.CaseOpen},
			{[]model.District{huashan, yushan}, "streetlight", "cgj", "两区交界处路灯不亮", model.CaseResolved},
			{[]model.District{yushan}, "gas", "rqgs", "燃气味道很重_请查", model.CaseOpen},
			{[]model.District{huashan}, "noise", "sthjj", "工地夜间施工噪音", model.CaseOpen},
		}
		nos := make([]string, len(seeds))
		for i, sd := range seeds {
			no := fmt.Sprintf("MSB-20261126-%04d", i+1)
			nos[i] = no
			at := t0.Add(time.Duration(i) * time.Hour)
			id, err := s.InsertCase(ctx, nil, store.NewCase{
				Case: model.Case{No: no, Status: sd.status, Districts: sd.dists, Category: sd.category, Priority: model.PriorityNormal,
					Lead: sd.lead, Summary: sd.summary, FirstPostID: "replay:" + no, CreatedAt: at},
				District: sd.dists[0].Code, Place: "compound:翠湖小区",
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddCasePost(ctx, nil, store.CasePost{PostID: "replay:" + no, CaseID: id, Role: store.CasePostOrigin, MergedAt: at}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.InsertAssignment(ctx, nil, store.Assignment{Assignment: model.Assignment{CaseID: id, Department: sd.lead,
				Role: model.RoleLead, State: model.AssignmentPending, PolicyVersion: "p", ClaimBy: at, ReplyBy: at, CloseBy: at, CreatedAt: at}}); err != nil {
				t.Fatal(err)
			}
		}
		numbers := func(p store.CasePage) []string {
			var out []string
			for _, c := range p.Cases {
				out = append(out, c.No)
			}
			return out
		}
		rev := func(idx ...int) []string {
			var out []string
			for _, i := range idx {
				out = append(out, nos[i])
			}
			return out
		}
		for _, tc := range []struct {
			name string
			q    store.CaseQuery
			want []string
		}{
			{"all newest first", store.CaseQuery{}, rev(4, 3, 2, 1, 0)},
			{"state", store.CaseQuery{Status: model.CaseResolved}, rev(2)},
			{"district code includes borders", store.CaseQuery{District: "340504"}, rev(3, 2, 1)},
			{"district name", store.CaseQuery{District: "花山区"}, rev(4, 2, 0)},
			{"department", store.CaseQuery{Department: "cgj"}, rev(2, 0)},
			{"categories", store.CaseQuery{Categories: []string{"gas", "noise"}}, rev(4, 3, 1)},
			{"numbers", store.CaseQuery{Numbers: []string{nos[1], nos[3], "MSB-20990101-0001"}}, rev(3, 1)},
			{"since", store.CaseQuery{Since: t0.Add(3 * time.Hour)}, rev(4, 3)},
			{"until", store.CaseQuery{Until: t0.Add(time.Hour)}, rev(1, 0)},
			{"text", store.CaseQuery{Text: "路灯"}, rev(2, 0)},
			{"text ignores Latin case", store.CaseQuery{Text: "loud"}, rev(1)},
			{"text percent is literal", store.CaseQuery{Text: "100%扰"}, rev(1)},
			{"text underscore is literal", store.CaseQuery{Text: "重_请"}, rev(3)},
			{"text wildcard does not match", store.CaseQuery{Text: "重%查"}, nil},
			{"filters combine", store.CaseQuery{District: "花山区", Categories: []string{"noise"}, Status: model.CaseOpen}, rev(4)},
			{"offset", store.CaseQuery{Offset: 3}, rev(1, 0)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, err := s.ListCasesPage(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if got := numbers(p); !slices.Equal(got, tc.want) {
					t.Errorf("cases = %v, want %v", got, tc.want)
				}
				if p.Next != "" {
					t.Errorf("next = %q on a last page", p.Next)
				}
			})
		}

		// Paging by two walks every case once, newest first, and the
		// last page says there is no next one.
		var got []string
		q := store.CaseQuery{Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			p, err := s.ListCasesPage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, numbers(p)...)
			for _, c := range p.Cases {
				if len(c.PostIDs) != 1 || c.PostIDs[0] != "replay:"+c.No || c.Place != "compound:翠湖小区" {
					t.Errorf("case %s: posts %v, place %q", c.No, c.PostIDs, c.Place)
				}
			}
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
		if want := rev(4, 3, 2, 1, 0); !slices.Equal(got, want) {
			t.Errorf("paged = %v, want %v", got, want)
		}
		// A case opened while a client pages does not shift its pages.
		first, err := s.ListCasesPage(ctx, store.CaseQuery{Limit: 2, Text: "路灯"})
		if err != nil || len(first.Cases) != 2 || first.Next != "" {
			t.Fatalf("first page = %v, %v", numbers(first), err)
		}
		p1, _ := s.ListCasesPage(ctx, store.CaseQuery{Limit: 3})
		seedCase(t, s, nil, "MSB-20261127-0001", "340503", t0.Add(24*time.Hour))
		p2, err := s.ListCasesPage(ctx, store.CaseQuery{Limit: 3, Cursor: p1.Next})
		if err != nil || !slices.Equal(numbers(p2), rev(1, 0)) {
			t.Errorf("page after a new case = %v, %v; want %v", numbers(p2), err, rev(1, 0))
		}

		for _, bad := range []string{"x", "YzE6MA", "bm9wZTox", "YzE6LTU"} {
			if _, err := s.ListCasesPage(ctx, store.CaseQuery{Cursor: bad}); !errors.Is(err, store.ErrBadCursor) {
				t.Errorf("cursor %q: err = %v, want ErrBadCursor", bad, err)
			}
		}

		works, err := s.CaseWorks(ctx, []int64{p1.Cases[0].ID, p1.Cases[1].ID})
		if err != nil {
			t.Fatal(err)
		}
		if w := works[p1.Cases[0].ID]; len(w) != 1 || w[0].Department != "sthjj" || w[0].Role != model.RoleLead || w[0].State != model.AssignmentPending {
			t.Errorf("works of %s = %+v", p1.Cases[0].No, w)
		}
	})
}
