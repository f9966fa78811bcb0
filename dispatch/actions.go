package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
)

// Errors of the actions, mapped to HTTP statuses by the API.
var (
	ErrNotFound  = store.ErrNotFound               // 404
	ErrForbidden = errors.New("forbidden")         // 403
	ErrConflict  = errors.New("conflicting state") // 409
)

// Actor is who performs an action: a department, or a supervisor who may act
// on every assignment and route triage.
type Actor struct {
	ID         string
	Supervisor bool
}

func (a Actor) String() string { return a.ID }

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// act runs fn on an assignment the actor may touch, in one transaction, and
// returns the assignment as it is afterwards.
func (d *Dispatcher) act(ctx context.Context, actor Actor, id int64, fn func(tx store.Tx, a store.Assignment, now time.Time) error) (store.Assignment, error) {
	var out store.Assignment
	err := d.st.DB.InTx(ctx, func(tx store.Tx) error {
		a, err := d.st.GetAssignment(ctx, tx, id)
		if err != nil {
			return err
		}
		if !actor.Supervisor && a.Department != actor.ID {
			return fmt.Errorf("%w: assignment %d belongs to another department", ErrForbidden, id)
		}
		now := d.now()
		if err := d.issueEarnedCards(ctx, tx, a, now); err != nil {
			return err
		}
		if err := fn(tx, a, now); err != nil {
			return err
		}
		out, err = d.st.GetAssignment(ctx, tx, id)
		return err
	})
	if err == nil {
		d.notifySender()
	}
	return out, err
}

func (d *Dispatcher) auditAssignment(ctx context.Context, tx store.Tx, a store.Assignment, kind string, actor Actor, now time.Time, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["department"] = a.Department
	detail["case_no"] = a.CaseNo
	return d.event(ctx, tx, store.Event{At: now, Kind: kind, CaseID: &a.CaseID, AssignmentID: &a.ID, Actor: actor.ID}, detail)
}

// Claim takes a pending assignment: the department has seen it.
func (d *Dispatcher) Claim(ctx context.Context, actor Actor, id int64) (store.Assignment, error) {
	return d.act(ctx, actor, id, func(tx store.Tx, a store.Assignment, now time.Time) error {
		ok, err := d.st.TransitionAssignment(ctx, tx, id, []model.AssignmentState{model.AssignmentPending}, model.AssignmentClaimed, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("assignment %d is %s, only a pending assignment can be claimed", id, a.State)
		}
		return d.auditAssignment(ctx, tx, a, "assignment.claimed", actor, now, nil)
	})
}

// Reply records the department's answer and sends it to every citizen who
// reported the case. The first reply stops the reply clock.
func (d *Dispatcher) Reply(ctx context.Context, actor Actor, id int64, text string) (store.Assignment, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return store.Assignment{}, invalid("reply text is empty")
	}
	return d.act(ctx, actor, id, func(tx store.Tx, a store.Assignment, now time.Time) error {
		ok, err := d.st.TransitionAssignment(ctx, tx, id, []model.AssignmentState{model.AssignmentClaimed, model.AssignmentReplied}, model.AssignmentReplied, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("assignment %d is %s, claim it before replying", id, a.State)
		}
		if err := d.auditAssignment(ctx, tx, a, "assignment.replied", actor, now, map[string]any{"text": text}); err != nil {
			return err
		}
		name := d.citizenName(a.Department, nil)
		return d.progress(ctx, tx, a.CaseID, reply.Progress, reply.Data{CaseNo: a.CaseNo, Dept: name, Text: text, Link: d.link(a.CaseNo)}, name, now)
	})
}

// Resolve closes the assignment with a final answer to the citizens; the
// case is resolved when every assignment of it is.
func (d *Dispatcher) Resolve(ctx context.Context, actor Actor, id int64, text string) (store.Assignment, error) {
	text = strings.TrimSpace(text) // empty: the resolve template's standard words
	return d.act(ctx, actor, id, func(tx store.Tx, a store.Assignment, now time.Time) error {
		ok, err := d.st.TransitionAssignment(ctx, tx, id, []model.AssignmentState{model.AssignmentClaimed, model.AssignmentReplied}, model.AssignmentResolved, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("assignment %d is %s, only a claimed or replied assignment can be resolved", id, a.State)
		}
		if err := d.auditAssignment(ctx, tx, a, "assignment.resolved", actor, now, map[string]any{"text": text}); err != nil {
			return err
		}
		all, err := d.st.ListAssignments(ctx, tx, store.AssignmentFilter{CaseID: a.CaseID, Limit: 1000})
		if err != nil {
			return err
		}
		done := true
		for _, x := range all {
			if x.State != model.AssignmentResolved && x.State != model.AssignmentTransferred {
				done = false
			}
		}
		if done {
			if err := d.st.SetCaseStatus(ctx, tx, a.CaseID, model.CaseResolved, now); err != nil {
				return err
			}
			if err := d.event(ctx, tx, store.Event{At: now, Kind: "case.resolved", CaseID: &a.CaseID, Actor: actor.ID},
				map[string]any{"case_no": a.CaseNo}); err != nil {
				return err
			}
		}
		name := d.citizenName(a.Department, nil)
		return d.progress(ctx, tx, a.CaseID, reply.Resolve, reply.Data{CaseNo: a.CaseNo, Dept: name, Text: text, Link: d.link(a.CaseNo)}, name, now)
	})
}

// Former lead's choices when a transfer makes an assisting department the
// lead.
const (
	FormerLeadLeave  = "leave"
	FormerLeadAssist = "assist"
)

// TransferRequest asks for a transfer of an assignment to department To,
// with the reason. FormerLead matters only when a lead assignment goes to a
// department that already assists on the case (the usual hand-over from a
// city bureau to the district, 属地): that department becomes the lead, and
// the former lead leaves ("leave") or stays on to assist ("assist").
type TransferRequest struct {
	To         string `json:"to"`
	FormerLead string `json:"former_lead,omitempty"`
	Reason     string `json:"reason"`
}

// Transfer hands an active assignment to another department; see
// TransferWith.
func (d *Dispatcher) Transfer(ctx context.Context, actor Actor, id int64, to, reason string) (store.Assignment, error) {
	return d.TransferWith(ctx, actor, id, TransferRequest{To: to, Reason: reason})
}

// TransferWith hands an active assignment to another department (see the
// fair clock rule in docs/architecture.md) and returns the receiving
// department's assignment. The receiver may be any department the rule set
// or the configuration knows, with or without an API token: its assignment
// waits for it in the supervisor's list. A lead assignment handed to a
// department that assists on the case makes that assignment the lead one.
// Every transfer is an audit event with who, when and why.
func (d *Dispatcher) TransferWith(ctx context.Context, actor Actor, id int64, req TransferRequest) (store.Assignment, error) {
	to, reason, former := strings.TrimSpace(req.To), strings.TrimSpace(req.Reason), strings.TrimSpace(req.FormerLead)
	if to == "" || reason == "" {
		return store.Assignment{}, invalid("a transfer needs a department (to) and a reason")
	}
	if !d.knows(to) {
		return store.Assignment{}, invalid("unknown department %q", to)
	}
	if former != "" && former != FormerLeadLeave && former != FormerLeadAssist {
		return store.Assignment{}, invalid("former_lead is %q, want %q or %q", former, FormerLeadLeave, FormerLeadAssist)
	}
	var newID int64
	_, err := d.act(ctx, actor, id, func(tx store.Tx, a store.Assignment, now time.Time) error {
		if to == a.Department {
			return invalid("assignment %d is already with %q", id, to)
		}
		others, err := d.st.ListAssignments(ctx, tx, store.AssignmentFilter{CaseID: a.CaseID, Department: to, States: store.ActiveStates})
		if err != nil {
			return err
		}
		if len(others) > 0 {
			o := others[0]
			if a.Role != model.RoleLead || o.Role != model.RoleAssist {
				return conflict("%q already holds assignment %d of case %s", to, o.ID, a.CaseNo)
			}
			if former == "" {
				return invalid("%q assists on case %s: say whether the former lead leaves or assists (former_lead %q or %q)",
					to, a.CaseNo, FormerLeadLeave, FormerLeadAssist)
			}
			newID = o.ID
			return d.handOver(ctx, tx, actor, a, o, former, reason, now)
		}
		ok, err := d.st.MarkTransferred(ctx, tx, id, to, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("assignment %d is %s, only an active assignment can be transferred", id, a.State)
		}
		n := transferred(a, to, now)
		newID, err = d.st.InsertAssignment(ctx, tx, n)
		if err != nil {
			return err
		}
		if a.Role == model.RoleLead {
			if err := d.st.SetCaseLead(ctx, tx, a.CaseID, to, now); err != nil {
				return err
			}
		}
		if err := d.auditAssignment(ctx, tx, a, "assignment.transferred", actor, now, map[string]any{
			"to": to, "reason": reason, "new_assignment_id": newID,
			"claim_by": n.ClaimBy, "reply_by": n.ReplyBy, "close_by": n.CloseBy}); err != nil {
			return err
		}
		n.ID, n.CaseNo = newID, a.CaseNo
		if err := d.event(ctx, tx, store.Event{At: now, Kind: "assignment.created", CaseID: &a.CaseID, AssignmentID: &newID, Actor: actor.ID},
			map[string]any{"department": to, "role": n.Role, "policy_version": n.PolicyVersion, "transferred_from": a.ID,
				"claim_by": n.ClaimBy, "reply_by": n.ReplyBy, "close_by": n.CloseBy}); err != nil {
			return err
		}
		if err := d.queueNotice(ctx, tx, n, NoticeAssigned, n.ClaimBy,
			fmt.Sprintf("由%s转来，理由：%s", d.deptName(a.Department, nil), reason), now); err != nil {
			return err
		}
		from := d.citizenName(a.Department, nil)
		return d.progress(ctx, tx, a.CaseID, reply.Transfer, reply.Data{CaseNo: a.CaseNo, Dept: from, To: d.citizenName(to, nil),
			Link: d.link(a.CaseNo)}, from, now)
	})
	if err != nil {
		return store.Assignment{}, err
	}
	return d.st.GetAssignment(ctx, nil, newID)
}

// handOver makes the assisting assignment o the lead of the case of the
// lead assignment a; a's department leaves (a ends as transferred) or stays
// on to assist (a keeps its state and deadlines, now as an assistant). o
// keeps its own state and deadlines: the department has had the case since
// it was opened.
func (d *Dispatcher) handOver(ctx context.Context, tx store.Tx, actor Actor, a, o store.Assignment, former, reason string, now time.Time) error {
	if former == FormerLeadLeave {
		ok, err := d.st.MarkTransferred(ctx, tx, a.ID, o.Department, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("assignment %d is %s, only an active assignment can be transferred", a.ID, a.State)
		}
	} else {
		ok, err := d.st.SetAssignmentRole(ctx, tx, a.ID, model.RoleAssist, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("assignment %d is %s, only an active assignment can be transferred", a.ID, a.State)
		}
	}
	ok, err := d.st.SetAssignmentRole(ctx, tx, o.ID, model.RoleLead, now)
	if err != nil {
		return err
	}
	if !ok {
		return conflict("assignment %d of %q is %s, no longer active", o.ID, o.Department, o.State)
	}
	if err := d.st.SetCaseLead(ctx, tx, a.CaseID, o.Department, now); err != nil {
		return err
	}
	if err := d.auditAssignment(ctx, tx, a, "assignment.transferred", actor, now, map[string]any{
		"to": o.Department, "reason": reason, "new_assignment_id": o.ID, "former_lead": former,
		"claim_by": o.ClaimBy, "reply_by": o.ReplyBy, "close_by": o.CloseBy}); err != nil {
		return err
	}
	if err := d.auditAssignment(ctx, tx, o, "assignment.role_changed", actor, now, map[string]any{
		"from_role": model.RoleAssist, "role": model.RoleLead, "reason": reason, "transferred_from": a.ID}); err != nil {
		return err
	}
	if former == FormerLeadAssist {
		if err := d.auditAssignment(ctx, tx, a, "assignment.role_changed", actor, now, map[string]any{
			"from_role": model.RoleLead, "role": model.RoleAssist, "reason": reason}); err != nil {
			return err
		}
	}
	o.Role = model.RoleLead
	if err := d.queueNotice(ctx, tx, o, NoticeLead, o.ReplyBy,
		fmt.Sprintf("由%s转来，理由：%s", d.deptName(a.Department, nil), reason), now); err != nil {
		return err
	}
	from := d.citizenName(a.Department, nil)
	return d.progress(ctx, tx, a.CaseID, reply.Transfer, reply.Data{CaseNo: a.CaseNo, Dept: from, To: d.citizenName(o.Department, nil),
		Link: d.link(a.CaseNo)}, from, now)
}

// transferred is the receiving department's assignment under the fair clock
// rule: a fresh claim window from now; the reply and close deadlines stand,
// pushed back only to lie after the new claim deadline.
func transferred(a store.Assignment, to string, now time.Time) store.Assignment {
	claimWindow := a.ClaimBy.Sub(a.CreatedAt)
	claimBy := now.Add(claimWindow)
	replyBy := a.ReplyBy
	if replyBy.Before(claimBy) {
		replyBy = claimBy
	}
	closeBy := a.CloseBy
	if closeBy.Before(replyBy) {
		closeBy = replyBy
	}
	from := a.ID
	return store.Assignment{
		Assignment: model.Assignment{CaseID: a.CaseID, Department: to, Role: a.Role, State: model.AssignmentPending,
			PolicyVersion: a.PolicyVersion, ClaimBy: claimBy, ReplyBy: replyBy, CloseBy: closeBy, CreatedAt: now},
		TransferredFrom: &from,
	}
}

// Reopen takes a resolved assignment back to work with a new close deadline
// (its close duration from now); the case opens again.
func (d *Dispatcher) Reopen(ctx context.Context, actor Actor, id int64, reason string) (store.Assignment, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return store.Assignment{}, invalid("a reopen needs a reason")
	}
	return d.act(ctx, actor, id, func(tx store.Tx, a store.Assignment, now time.Time) error {
		closeBy := now.Add(a.CloseBy.Sub(a.CreatedAt))
		ok, err := d.st.Reopen(ctx, tx, id, closeBy, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("assignment %d is %s, only a resolved assignment can be reopened", id, a.State)
		}
		if err := d.st.SetCaseStatus(ctx, tx, a.CaseID, model.CaseOpen, now); err != nil {
			return err
		}
		return d.auditAssignment(ctx, tx, a, "assignment.reopened", actor, now, map[string]any{"reason": reason, "close_by": closeBy})
	})
}

// progress queues reply tmpl about data to every citizen who reported the
// case; dept is the acting department's name (WeChat's department keyword).
func (d *Dispatcher) progress(ctx context.Context, tx store.Tx, caseID int64, tmpl string, data reply.Data, dept string, now time.Time) error {
	posts, err := d.st.ReplyTargets(ctx, tx, caseID)
	if err != nil {
		return err
	}
	for _, p := range posts {
		if err := d.enqueue(ctx, tx, p, store.ReplyProgress, tmpl, data, "", dept, now); err != nil {
			return err
		}
	}
	return nil
}

// Unmerge undoes a merge: the repeat post becomes its own case, routed like
// the case it leaves, with fresh deadlines under the default policy; the
// citizen is told the new case number. The supervisor or the case's lead
// department may do it.
func (d *Dispatcher) Unmerge(ctx context.Context, actor Actor, postID, reason string) (model.Case, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return model.Case{}, invalid("undoing a merge needs a reason")
	}
	var newID int64
	err := d.st.DB.InTx(ctx, func(tx store.Tx) error {
		cp, err := d.st.GetCasePost(ctx, tx, postID)
		if err != nil {
			return err
		}
		from, err := d.st.GetCase(ctx, tx, cp.CaseID)
		if err != nil {
			return err
		}
		if !actor.Supervisor && from.Lead != actor.ID {
			return fmt.Errorf("%w: only the supervisor or the lead department %q may undo a merge into %s", ErrForbidden, from.Lead, from.No)
		}
		if cp.Role != store.CasePostRepeat {
			return conflict("post %s is the origin of case %s, not a merged repeat", postID, from.No)
		}
		now := d.now()
		no, err := d.nextCaseNo(ctx, tx, now)
		if err != nil {
			return err
		}
		var summary string
		posts, err := d.st.ReplyTargets(ctx, tx, from.ID)
		if err != nil {
			return err
		}
		var post model.Post
		for _, p := range posts {
			if p.ID == postID {
				post, summary = p, p.Text
			}
		}
		c := model.Case{No: no, Status: model.CaseOpen, Districts: from.Districts, Category: from.Category, Priority: from.Priority,
			Lead: from.Lead, Summary: summary, FirstPostID: postID, RuleSetVersion: from.RuleSetVersion, CreatedAt: now}
		newID, err = d.st.InsertCase(ctx, tx, store.NewCase{Case: c, District: districtCode(from.Districts)})
		if err != nil {
			return err
		}
		ok, err := d.st.MoveCasePost(ctx, tx, postID, from.ID, newID, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("post %s is no longer a repeat in case %s", postID, from.No)
		}
		as, err := d.st.ListAssignments(ctx, tx, store.AssignmentFilter{CaseID: from.ID, Limit: 1000})
		if err != nil {
			return err
		}
		sla := d.opts.DefaultSLA
		seen := map[string]bool{}
		// Lead first, then the assisting departments that still hold the case.
		slices.SortStableFunc(as, func(x, y store.Assignment) int {
			return boolInt(x.Role != model.RoleLead) - boolInt(y.Role != model.RoleLead)
		})
		for _, a := range as {
			if a.State == model.AssignmentTransferred || seen[a.Department] {
				continue
			}
			seen[a.Department] = true
			n := store.Assignment{Assignment: model.Assignment{CaseID: newID, Department: a.Department, Role: a.Role,
				State: model.AssignmentPending, PolicyVersion: d.opts.PolicyVersion, CreatedAt: now,
				ClaimBy: now.Add(time.Duration(sla.Claim)), ReplyBy: now.Add(time.Duration(sla.Reply)), CloseBy: now.Add(time.Duration(sla.Close))}}
			aid, err := d.st.InsertAssignment(ctx, tx, n)
			if err != nil {
				return err
			}
			if err := d.event(ctx, tx, store.Event{At: now, Kind: "assignment.created", CaseID: &newID, AssignmentID: &aid, Actor: actor.ID},
				map[string]any{"department": a.Department, "role": a.Role, "policy_version": d.opts.PolicyVersion}); err != nil {
				return err
			}
			n.ID, n.CaseNo = aid, no
			if err := d.queueNotice(ctx, tx, n, NoticeAssigned, n.ClaimBy, "市民反映："+citizenWords(summary), now); err != nil {
				return err
			}
		}
		for _, cid := range []int64{from.ID, newID} {
			if err := d.event(ctx, tx, store.Event{At: now, Kind: "case.unmerged", CaseID: &cid, PostID: postID, Actor: actor.ID},
				map[string]any{"from": from.No, "to": no, "reason": reason}); err != nil {
				return err
			}
		}
		if err := d.st.TouchCase(ctx, tx, from.ID, now); err != nil {
			return err
		}
		lead := d.citizenName(from.Lead, nil)
		data := reply.Data{CaseNo: no, From: from.No, Lead: lead, Link: d.link(no)}.WithDeadlines(sla)
		return d.enqueue(ctx, tx, post, store.ReplyProgress, reply.Unmerge, data, "", lead, now)
	})
	if err != nil {
		return model.Case{}, err
	}
	d.notifySender()
	return d.st.GetCase(ctx, nil, newID)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Route is a supervisor's routing of a triage entry.
type Route struct {
	Lead      string           `json:"lead"`
	Assist    []string         `json:"assist,omitempty"`
	Districts []model.District `json:"districts,omitempty"` // default: the classifier's
	Category  string           `json:"category,omitempty"`
	Priority  model.Priority   `json:"priority,omitempty"`
	Reason    string           `json:"reason"`
}

// RouteTriage routes a waiting triage entry by hand: the post becomes a case
// (or joins an open repeat) as if the classifier had decided so, with the
// supervisor and reason recorded; the citizen gets the case number.
func (d *Dispatcher) RouteTriage(ctx context.Context, actor Actor, postID string, r Route) (model.Case, error) {
	if !actor.Supervisor {
		return model.Case{}, fmt.Errorf("%w: only a supervisor routes triage", ErrForbidden)
	}
	r.Lead, r.Reason = strings.TrimSpace(r.Lead), strings.TrimSpace(r.Reason)
	if r.Lead == "" || r.Reason == "" {
		return model.Case{}, invalid("routing needs a lead department and a reason")
	}
	for _, dep := range append([]string{r.Lead}, r.Assist...) {
		if !d.knows(dep) {
			return model.Case{}, invalid("unknown department %q", dep)
		}
	}
	var caseID int64
	err := d.st.DB.InTx(ctx, func(tx store.Tx) error {
		it, err := d.st.GetTriage(ctx, tx, postID)
		if err != nil {
			return err
		}
		if it.State != store.TriageWaiting {
			return conflict("post %s was routed already by %s", postID, it.RoutedBy)
		}
		dec := it.Decision
		dec.Triage, dec.TriageReason = false, ""
		dec.Lead = &model.Department{ID: r.Lead, Name: d.deptName(r.Lead, nil)}
		dec.Assist = nil
		for _, a := range r.Assist {
			dec.Assist = append(dec.Assist, model.Department{ID: a, Name: d.deptName(a, nil)})
		}
		if len(r.Districts) > 0 {
			dec.Districts = r.Districts
		}
		if r.Category != "" {
			dec.Category = r.Category
		}
		if r.Priority != "" {
			dec.Priority = r.Priority
		}
		dec.SLA = nil // the route's override belonged to the classifier's route, not this one
		now := d.now()
		res, err := d.place(ctx, tx, dec, now, store.ReplyProgress, actor.ID)
		if err != nil {
			return err
		}
		caseID = res.caseID
		ok, err := d.st.MarkRouted(ctx, tx, postID, res.caseID, actor.ID, r.Reason, now)
		if err != nil {
			return err
		}
		if !ok {
			return conflict("post %s was routed concurrently", postID)
		}
		return d.event(ctx, tx, store.Event{At: now, Kind: "triage.routed", CaseID: &res.caseID, PostID: postID, Actor: actor.ID,
			DedupKey: "routed:" + postID}, map[string]any{"reason": r.Reason, "lead": r.Lead, "assist": r.Assist, "case_no": res.caseNo, "outcome": res.outcome})
	})
	if err != nil {
		return model.Case{}, err
	}
	d.notifySender()
	return d.st.GetCase(ctx, nil, caseID)
}
