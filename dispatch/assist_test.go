package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestRequestAssist(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newTestDispatcher(t, st, clk)
		dec := decision(model.ChannelReplay, "as1", "小区门口燃气管道漏气", []string{"燃气", "漏气"}, nil, huashan, cgj)
		mustHandle(t, d, dec)
		as, err := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
		if err != nil || len(as) != 1 {
			t.Fatalf("assignments: %v %v", as, err)
		}
		lead := as[0]
		clk.Add(2 * time.Hour)

		for _, tc := range []struct {
			name      string
			actor     Actor
			to, why   string
			wantError error
		}{
			{"no reason", Actor{ID: "cgj"}, "gas", " ", ErrInvalid},
			{"unknown department", Actor{ID: "cgj"}, "nowhere", "管道", ErrInvalid},
			{"itself", Actor{ID: "cgj"}, "cgj", "管道", ErrInvalid},
			{"another department's assignment", Actor{ID: "ldj"}, "gas", "管道", ErrForbidden},
		} {
			if _, err := d.RequestAssist(ctx, tc.actor, lead.ID, tc.to, tc.why); !errors.Is(err, tc.wantError) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.wantError)
			}
		}
		got, err := d.RequestAssist(ctx, Actor{ID: "cgj"}, lead.ID, "gas", "燃气管道归燃气公司检修")
		if err != nil {
			t.Fatal(err)
		}
		if got.Department != "gas" || got.Role != model.RoleAssist || got.State != model.AssignmentPending || got.CaseID != lead.CaseID {
			t.Errorf("assisting assignment = %+v", got)
		}
		if want := clk.Now().Add(lead.ClaimBy.Sub(lead.CreatedAt)); !got.ClaimBy.Equal(want) || !got.CloseBy.Equal(lead.CloseBy) {
			t.Errorf("deadlines claim %v close %v, want claim %v close %v", got.ClaimBy, got.CloseBy, want, lead.CloseBy)
		}
		if again, _ := st.GetAssignment(ctx, nil, lead.ID); again.State != lead.State || again.Role != model.RoleLead || again.Department != "cgj" {
			t.Errorf("requesting assignment changed: %+v", again)
		}
		if c := caseOf(t, st, dec.Post.ID); c.Lead != "cgj" {
			t.Errorf("case lead = %q", c.Lead)
		}
		evs, err := st.ListEvents(ctx, store.EventFilter{Kind: "assignment.assist_requested"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("assist events: %v %v", evs, err)
		}
		var det map[string]any
		if err := json.Unmarshal(evs[0].Detail, &det); err != nil {
			t.Fatal(err)
		}
		if evs[0].Actor != "cgj" || *evs[0].AssignmentID != lead.ID || det["to"] != "gas" || det["reason"] != "燃气管道归燃气公司检修" || det["new_assignment_id"] != float64(got.ID) {
			t.Errorf("assist event by %q on %v: %v", evs[0].Actor, *evs[0].AssignmentID, det)
		}
		if n := count(t, st, `SELECT COUNT(*) FROM events WHERE kind = 'assignment.created' AND assignment_id = $1 AND actor = 'cgj'`, got.ID); n != 1 {
			t.Errorf("creation events of the assisting assignment by cgj = %d, want 1", n)
		}
		// The assisting department is now on the case: a second request conflicts.
		if _, err := d.RequestAssist(ctx, Actor{ID: "duty", Supervisor: true}, lead.ID, "gas", "再请一次"); !errors.Is(err, ErrConflict) {
			t.Errorf("second request for the same department: %v, want conflict", err)
		}
		// A finished assignment cannot ask for help.
		if _, err := d.Claim(ctx, Actor{ID: "cgj"}, lead.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Resolve(ctx, Actor{ID: "cgj"}, lead.ID, "已处理"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.RequestAssist(ctx, Actor{ID: "cgj"}, lead.ID, "fire", "消防检查"); !errors.Is(err, ErrConflict) {
			t.Errorf("request from a resolved assignment: %v, want conflict", err)
		}
	})
}
