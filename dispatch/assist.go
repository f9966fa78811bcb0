package dispatch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// RequestAssist asks another department to help with a case: the holder of
// an active assignment (or the supervisor) adds department to as an
// assisting department, with the reason. The new assignment runs on the
// fair clock rule of a transfer (a fresh claim window from now; the reply
// and close deadlines of the requesting assignment, pushed back only to lie
// after the claim deadline); the requesting assignment is unchanged. The
// request is an audit event on the requesting assignment, and the new
// assignment's creation names it; the department gets an assignment notice.
func (d *Dispatcher) RequestAssist(ctx context.Context, actor Actor, id int64, to, reason string) (store.Assignment, error) {
	to, reason = strings.TrimSpace(to), strings.TrimSpace(reason)
	if to == "" || reason == "" {
		return store.Assignment{}, invalid("a request for help needs a department (to) and a reason")
	}
	if !d.knows(to) {
		return store.Assignment{}, invalid("unknown department %q", to)
	}
	var newID int64
	_, err := d.act(ctx, actor, id, func(tx store.Tx, a store.Assignment, now time.Time) error {
		if !slices.Contains(store.ActiveStates, a.State) {
			return conflict("assignment %d is %s, only an active assignment can ask for help", id, a.State)
		}
		if to == a.Department {
			return invalid("assignment %d is already with %q", id, to)
		}
		others, err := d.st.ListAssignments(ctx, tx, store.AssignmentFilter{CaseID: a.CaseID, Department: to, States: store.ActiveStates})
		if err != nil {
			return err
		}
		if len(others) > 0 {
			return conflict("%q already holds assignment %d of case %s", to, others[0].ID, a.CaseNo)
		}
		n := transferred(a, to, now)
		n.Role, n.TransferredFrom = model.RoleAssist, nil
		newID, err = d.st.InsertAssignment(ctx, tx, n)
		if err != nil {
			return err
		}
		if err := d.auditAssignment(ctx, tx, a, "assignment.assist_requested", actor, now, map[string]any{
			"to": to, "reason": reason, "new_assignment_id": newID}); err != nil {
			return err
		}
		n.ID, n.CaseNo = newID, a.CaseNo
		if err := d.event(ctx, tx, store.Event{At: now, Kind: "assignment.created", CaseID: &a.CaseID, AssignmentID: &newID, Actor: actor.ID},
			map[string]any{"department": to, "role": n.Role, "policy_version": n.PolicyVersion, "assist_requested_by": a.ID,
				"claim_by": n.ClaimBy, "reply_by": n.ReplyBy, "close_by": n.CloseBy}); err != nil {
			return err
		}
		return d.queueNotice(ctx, tx, n, NoticeAssigned, n.ClaimBy,
			fmt.Sprintf("%s请求协办，理由：%s", d.deptName(a.Department, nil), reason), now)
	})
	if err != nil {
		return store.Assignment{}, err
	}
	return d.st.GetAssignment(ctx, nil, newID)
}
