package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestInboxAndCountWork(t *testing.T) {
	storetest.ForEachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		h := time.Hour
		add := func(no, district, dept string, state model.AssignmentState, claimBy, replyBy, closeBy time.Duration) int64 {
			cid := seedCase(t, s, nil, no, district, t0)
			id, err := s.InsertAssignment(ctx, nil, store.Assignment{Assignment: model.Assignment{CaseID: cid, Department: dept,
				Role: model.RoleLead, State: state, PolicyVersion: "p", ClaimBy: t0.Add(claimBy), ReplyBy: t0.Add(replyBy), CloseBy: t0.Add(closeBy), CreatedAt: t0}})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		// Current deadlines: a 5h (claim), b -2h (reply, overdue), c 3h (close), d done, e another department.
		a := add("MSB-1", "340503", "cgj", model.AssignmentPending, 5*h, 50*h, 100*h)
		b := add("MSB-2", "340503", "cgj", model.AssignmentClaimed, -10*h, -2*h, 100*h)
		c := add("MSB-3", "340504", "cgj", model.AssignmentReplied, -10*h, -5*h, 3*h)
		add("MSB-4", "340504", "cgj", model.AssignmentResolved, -10*h, -5*h, -3*h)
		e := add("MSB-5", "340504", "gas", model.AssignmentPending, -1*h, 50*h, 100*h)
		if _, err := s.InsertNotice(ctx, nil, store.Notice{AssignmentID: b, Kind: store.NoticeOrange, Deadline: t0.Add(-2 * h), Department: "cgj", IssuedAt: t0}); err != nil {
			t.Fatal(err)
		}
		ids := func(items []store.InboxItem) []int64 {
			var out []int64
			for _, it := range items {
				out = append(out, it.ID)
			}
			return out
		}
		for name, tc := range map[string]struct {
			f    store.InboxFilter
			want []int64
		}{
			"department by deadline":  {store.InboxFilter{Department: "cgj"}, []int64{b, c, a}},
			"everyone":                {store.InboxFilter{}, []int64{b, e, c, a}},
			"overdue":                 {store.InboxFilter{OverdueAt: t0}, []int64{b, e}},
			"carded":                  {store.InboxFilter{Carded: true}, []int64{b}},
			"district":                {store.InboxFilter{District: "340504"}, []int64{e, c}},
			"state":                   {store.InboxFilter{State: model.AssignmentClaimed}, []int64{b}},
			"text in the summary":     {store.InboxFilter{Department: "cgj", Text: "坏了"}, []int64{b, c, a}},
			"text in the case number": {store.InboxFilter{Text: "MSB-3"}, []int64{c}},
			"text not found":          {store.InboxFilter{Text: "井盖"}, nil},
			"wildcards are literal":   {store.InboxFilter{Text: "路%了"}, nil},
			"text and state":          {store.InboxFilter{Text: "路灯", State: model.AssignmentPending}, []int64{e, a}},
		} {
			items, err := s.Inbox(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(items); !equalIDs(got, tc.want) {
				t.Errorf("%s: inbox %v, want %v", name, got, tc.want)
			}
			for _, it := range items {
				if it.ID == b && (len(it.Cards) != 1 || !it.Due.Equal(t0.Add(-2*h).Truncate(time.Microsecond)) || it.Summary == "" || len(it.Districts) != 1) {
					t.Errorf("%s: item %+v lacks its card, deadline, summary or district", name, it)
				}
			}
		}
		w, err := s.CountWork(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Departments) != 2 || w.Departments[0] != (store.WorkCount{Key: "cgj", Open: 3, Overdue: 1, Carded: 1}) ||
			w.Departments[1] != (store.WorkCount{Key: "gas", Open: 1, Overdue: 1}) {
			t.Errorf("departments = %+v", w.Departments)
		}
		if w.Assignments.Open != 4 || w.Assignments.Overdue != 2 || w.Assignments.Carded != 1 {
			t.Errorf("total = %+v", w.Assignments)
		}
		// Every seeded case is open (none was resolved through the store).
		if len(w.Districts) != 2 || w.Districts[0].Key != "340503" && w.Districts[0].Key != "340504" || w.Districts[0].Name != "花山区" || w.Districts[0].Open+w.Districts[1].Open != 5 {
			t.Errorf("districts = %+v", w.Districts)
		}
	})
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
