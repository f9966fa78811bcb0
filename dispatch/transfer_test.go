package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// ruleDepartments stands for the rule set's departments: among them two
// district governments that have no API token.
var ruleDepartments = []model.Department{cgj, gas, fire, ldj,
	{ID: "huashan.gov", Name: "花山区人民政府"}, {ID: "yushan.gov", Name: "雨山区人民政府"}}

func newDirectoryDispatcher(st *store.Store, clk *fakeClock) *Dispatcher {
	return New(st, Options{Now: clk.Now, Departments: testDepartments,
		DepartmentNames: func() map[string]string {
			names := map[string]string{}
			for _, d := range ruleDepartments {
				names[d.ID] = d.Name
			}
			return names
		}}, nil, nil)
}

// transferEvent returns the detail of the only assignment.transferred event
// of assignment id, and its actor.
func transferEvent(t *testing.T, st *store.Store, id int64) (map[string]any, string) {
	t.Helper()
	evs, err := st.ListEvents(context.Background(), store.EventFilter{Kind: "assignment.transferred"})
	if err != nil {
		t.Fatal(err)
	}
	var found []store.Event
	for _, e := range evs {
		if e.AssignmentID != nil && *e.AssignmentID == id {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("transfer events of assignment %d = %d, want 1", id, len(found))
	}
	var detail map[string]any
	if err := json.Unmarshal(found[0].Detail, &detail); err != nil {
		t.Fatal(err)
	}
	return detail, found[0].Actor
}

func TestTransferToDepartmentWithoutToken(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newDirectoryDispatcher(st, clk)
		dec := decision(model.ChannelReplay, "t1", "楼道堆物", []string{"楼道", "堆物"}, nil, yushan, cgj)
		mustHandle(t, d, dec)
		as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
		from := as[0]
		c := apiClient{t, d.API()}
		path := fmt.Sprintf("/api/assignments/%d/transfer", from.ID)

		if code, body := c.do("POST", path, "tok-cgj", `{"to":"nowhere.gov","reason":"属地管理"}`); code != 400 || !strings.Contains(string(body), "unknown department") {
			t.Errorf("transfer to an unknown department = %d %s, want 400", code, body)
		}
		if code, body := c.do("POST", path, "tok-cgj", `{"to":"yushan.gov"}`); code != 400 || !strings.Contains(string(body), "reason") {
			t.Errorf("transfer without reason = %d %s, want 400", code, body)
		}
		code, body := c.do("POST", path, "tok-cgj", `{"to":"yushan.gov","reason":"属地管理"}`)
		if code != 200 {
			t.Fatalf("transfer to yushan.gov = %d %s", code, body)
		}
		var got store.Assignment
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Department != "yushan.gov" || got.State != model.AssignmentPending || got.Role != model.RoleLead {
			t.Errorf("new assignment = %+v", got)
		}
		if lead := caseOf(t, st, dec.Post.ID).Lead; lead != "yushan.gov" {
			t.Errorf("case lead = %q", lead)
		}
		// The case waits for the department in the supervisor's list.
		code, body = c.do("GET", "/api/assignments?state=pending&department=yushan.gov", "tok-duty", "")
		if code != 200 || !strings.Contains(string(body), fmt.Sprintf(`"id":%d`, got.ID)) {
			t.Errorf("supervisor's list of yushan.gov = %d %s", code, body)
		}
		detail, actor := transferEvent(t, st, from.ID)
		if actor != "cgj" || detail["to"] != "yushan.gov" || detail["reason"] != "属地管理" || detail["new_assignment_id"] != float64(got.ID) {
			t.Errorf("transfer event by %q: %v", actor, detail)
		}
		// The citizen reads the department's name, never its code.
		replies, _ := st.RepliesOf(ctx, dec.Post.ID)
		last := replies[len(replies)-1].Text
		if !strings.Contains(last, "雨山区人民政府") || strings.Contains(last, "yushan.gov") {
			t.Errorf("progress reply = %q", last)
		}
		// The supervisor acts for the department that has no token.
		if _, err := d.Claim(ctx, Actor{ID: "duty", Supervisor: true}, got.ID); err != nil {
			t.Errorf("supervisor claims for yushan.gov: %v", err)
		}
	})
}

func TestTransferToAssistingDepartment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, former string
		code         int    // HTTP status of the transfer
		check        string // substring of the answer
		leadState    model.AssignmentState
		leadRole     model.Role
	}{
		{name: "former lead leaves", former: "leave", code: 200, leadState: model.AssignmentTransferred, leadRole: model.RoleLead},
		{name: "former lead assists", former: "assist", code: 200, leadState: model.AssignmentClaimed, leadRole: model.RoleAssist},
		{name: "choice missing", former: "", code: 400, check: "former_lead"},
		{name: "bad choice", former: "stay", code: 400, check: "former_lead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
				ctx := context.Background()
				clk := newFakeClock(start)
				d := newDirectoryDispatcher(st, clk)
				dec := decision(model.ChannelReplay, "h1", "占道经营", []string{"占道", "经营"}, nil, huashan, cgj,
					model.Department{ID: "huashan.gov"})
				mustHandle(t, d, dec)
				as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
				lead, assist := as[0], as[1]
				if _, err := d.Claim(ctx, Actor{ID: "cgj"}, lead.ID); err != nil {
					t.Fatal(err)
				}
				body := fmt.Sprintf(`{"to":"huashan.gov","reason":"属地管理，由区政府牵头","former_lead":%q}`, tc.former)
				code, resp := apiClient{t, d.API()}.do("POST", fmt.Sprintf("/api/assignments/%d/transfer", lead.ID), "tok-cgj", body)
				if code != tc.code || !strings.Contains(string(resp), tc.check) {
					t.Fatalf("transfer = %d %s, want %d with %q", code, resp, tc.code, tc.check)
				}
				if code != 200 {
					// Nothing changed.
					if c := caseOf(t, st, dec.Post.ID); c.Lead != "cgj" {
						t.Errorf("case lead after a refused transfer = %q", c.Lead)
					}
					return
				}
				var got store.Assignment
				if err := json.Unmarshal(resp, &got); err != nil {
					t.Fatal(err)
				}
				if got.ID != assist.ID || got.Role != model.RoleLead || got.Department != "huashan.gov" {
					t.Errorf("answer = %+v, want the assisting assignment %d as lead", got, assist.ID)
				}
				if c := caseOf(t, st, dec.Post.ID); c.Lead != "huashan.gov" {
					t.Errorf("case lead = %q", c.Lead)
				}
				old, _ := st.GetAssignment(ctx, nil, lead.ID)
				if old.State != tc.leadState || old.Role != tc.leadRole {
					t.Errorf("former lead's assignment: %s %s, want %s %s", old.State, old.Role, tc.leadState, tc.leadRole)
				}
				detail, actor := transferEvent(t, st, lead.ID)
				if actor != "cgj" || detail["former_lead"] != tc.former || detail["to"] != "huashan.gov" || detail["reason"] != "属地管理，由区政府牵头" {
					t.Errorf("transfer event by %q: %v", actor, detail)
				}
				n := count(t, st, `SELECT count(*) FROM events WHERE kind = 'assignment.role_changed'`)
				if want := map[string]int{"leave": 1, "assist": 2}[tc.former]; n != want {
					t.Errorf("role change events = %d, want %d", n, want)
				}
				// A case has one lead.
				if n := count(t, st, `SELECT count(*) FROM assignments WHERE role = 'lead' AND state IN ('pending', 'claimed', 'replied')`); n != 1 {
					t.Errorf("active lead assignments = %d", n)
				}
			})
		})
	}
}

func TestTransferConflicts(t *testing.T) {
	t.Parallel()
	storetest.ForEachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := newFakeClock(start)
		d := newDirectoryDispatcher(st, clk)
		mustHandle(t, d, decision(model.ChannelReplay, "k1", "占道经营", []string{"占道", "经营"}, nil, huashan, cgj, fire))
		as, _ := st.ListAssignments(ctx, nil, store.AssignmentFilter{})
		lead, assist := as[0], as[1]
		// An assisting department cannot hand its part to the lead.
		if _, err := d.Transfer(ctx, Actor{ID: "fire"}, assist.ID, "cgj", "应由城管牵头"); !errors.Is(err, ErrConflict) {
			t.Errorf("assist to lead: %v, want a conflict", err)
		}
		if _, err := d.Transfer(ctx, Actor{ID: "cgj"}, lead.ID, "cgj", "x"); !errors.Is(err, ErrInvalid) {
			t.Errorf("transfer to itself: %v, want invalid", err)
		}
		if _, err := d.TransferWith(ctx, Actor{ID: "cgj"}, lead.ID, TransferRequest{To: "fire", FormerLead: FormerLeadLeave, Reason: "消防牵头"}); err != nil {
			t.Fatal(err)
		}
		// The former lead's assignment has ended: it cannot be transferred again.
		if _, err := d.TransferWith(ctx, Actor{ID: "cgj"}, lead.ID, TransferRequest{To: "gas", Reason: "x"}); !errors.Is(err, ErrConflict) {
			t.Errorf("second transfer of an ended assignment: %v, want a conflict", err)
		}
	})
}
