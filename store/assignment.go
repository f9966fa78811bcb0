package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
)

// Assignment is a department's share of a case as stored, with where a
// transfer sent it or brought it from.
type Assignment struct {
	model.Assignment
	TransferredTo   string `json:"transferred_to,omitempty"`
	TransferredFrom *int64 `json:"transferred_from,omitempty"`
}

// ActiveStates are the states in which an assignment's clock runs.
var ActiveStates = []model.AssignmentState{model.AssignmentPending, model.AssignmentClaimed, model.AssignmentReplied}

// InsertAssignment inserts a and returns its ID.
func (s *Store) InsertAssignment(ctx context.Context, q Querier, a Assignment) (int64, error) {
	var id int64
	err := s.querier(q).QueryRow(ctx, `
		INSERT INTO assignments (
			case_id, department, role, state, policy_version, claim_by, reply_by, close_by,
			transferred_from, created_at, updated_at
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
		RETURNING id`,
		a.CaseID, a.Department, string(a.Role), string(a.State), a.PolicyVersion,
		a.ClaimBy, a.ReplyBy, a.CloseBy, a.TransferredFrom, a.CreatedAt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert assignment of case %d for %q: %w", a.CaseID, a.Department, err)
	}
	return id, nil
}

const assignmentColumns = `a.id, a.case_id, c.case_no, a.department, a.role, a.state, a.policy_version,
		       a.claim_by, a.reply_by, a.close_by, a.claimed_at, a.replied_at, a.resolved_at,
		       a.transferred_to, a.transferred_from, a.created_at, a.updated_at`

func scanAssignment(r scanner) (Assignment, error) {
	var a Assignment
	var role, state string
	err := r.Scan(&a.ID, &a.CaseID, &a.CaseNo, &a.Department, &role, &state, &a.PolicyVersion,
		&a.ClaimBy, &a.ReplyBy, &a.CloseBy, &a.ClaimedAt, &a.RepliedAt, &a.ResolvedAt,
		&a.TransferredTo, &a.TransferredFrom, &a.CreatedAt, &a.UpdatedAt)
	a.Role, a.State = model.Role(role), model.AssignmentState(state)
	return a, err
}

// GetAssignment returns the assignment with its cards, or ErrNotFound.
func (s *Store) GetAssignment(ctx context.Context, q Querier, id int64) (Assignment, error) {
	q = s.querier(q)
	a, err := scanAssignment(q.QueryRow(ctx, `
		SELECT `+assignmentColumns+`
		FROM assignments a JOIN cases c ON c.id = a.case_id
		WHERE a.id = $1`, id))
	if err != nil {
		return Assignment{}, fmt.Errorf("get assignment %d: %w", id, err)
	}
	cards, err := s.cards(ctx, q, []int64{id})
	if err != nil {
		return Assignment{}, err
	}
	a.Cards = cards[id]
	return a, nil
}

// AssignmentFilter selects assignments; zero fields do not filter.
type AssignmentFilter struct {
	Department string
	CaseID     int64
	States     []model.AssignmentState
	DueBefore  time.Time // the deadline of the assignment's current step is before this
	AfterID    int64     // paging
	Limit      int       // default 100, at most 1000
}

// ListAssignments returns matching assignments in ID order, with their cards.
// An assignment's current deadline is claim_by while pending, reply_by while
// claimed, close_by while replied.
func (s *Store) ListAssignments(ctx context.Context, q Querier, f AssignmentFilter) ([]Assignment, error) {
	q = s.querier(q)
	var w sqlWhere
	if f.Department != "" {
		w.add("a.department = $?", f.Department)
	}
	if f.CaseID != 0 {
		w.add("a.case_id = $?", f.CaseID)
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = w.arg(string(st))
		}
		w.conds = append(w.conds, "a.state IN ("+strings.Join(ph, ", ")+")")
	}
	if !f.DueBefore.IsZero() {
		p := w.arg(f.DueBefore)
		w.conds = append(w.conds, `((a.state = 'pending' AND a.claim_by < `+p+`)
		    OR (a.state = 'claimed' AND a.reply_by < `+p+`)
		    OR (a.state = 'replied' AND a.close_by < `+p+`))`)
	}
	if f.AfterID > 0 {
		w.add("a.id > $?", f.AfterID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	rows, err := q.Query(ctx, `
		SELECT `+assignmentColumns+`
		FROM assignments a JOIN cases c ON c.id = a.case_id`+w.clause()+`
		ORDER BY a.id
		LIMIT `+w.arg(limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list assignments: %w", err)
	}
	out, err := collectRows(rows, scanAssignment)
	if err != nil {
		return nil, fmt.Errorf("list assignments: %w", err)
	}
	ids := make([]int64, len(out))
	for i, a := range out {
		ids[i] = a.ID
	}
	cards, err := s.cards(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Cards = cards[out[i].ID]
	}
	return out, nil
}

// TransitionAssignment moves an assignment from one of the states in from to
// state to, setting the timestamp column that goes with to (claimed_at,
// replied_at, resolved_at) when it is still empty. ok is false when the
// assignment is not in one of from: the caller reports the conflict. The
// condition on state in the UPDATE closes the race between two departments'
// clerks acting on the same assignment at once.
func (s *Store) TransitionAssignment(ctx context.Context, q Querier, id int64, from []model.AssignmentState, to model.AssignmentState, at time.Time) (ok bool, err error) {
	var w sqlWhere
	pid := w.arg(id)
	pto := w.arg(string(to))
	pat := w.arg(at)
	set := "state = " + pto + ", updated_at = " + pat
	switch to {
	case model.AssignmentClaimed:
		set += ", claimed_at = COALESCE(claimed_at, " + pat + ")"
	case model.AssignmentReplied:
		set += ", claimed_at = COALESCE(claimed_at, " + pat + "), replied_at = COALESCE(replied_at, " + pat + ")"
	case model.AssignmentResolved:
		set += ", claimed_at = COALESCE(claimed_at, " + pat + "), resolved_at = " + pat
	}
	ph := make([]string, len(from))
	for i, st := range from {
		ph[i] = w.arg(string(st))
	}
	n, err := s.querier(q).Exec(ctx, `
		UPDATE assignments
		SET `+set+`
		WHERE id = `+pid+` AND state IN (`+strings.Join(ph, ", ")+`)`, w.args...)
	if err != nil {
		return false, fmt.Errorf("assignment %d to %s: %w", id, to, err)
	}
	return n == 1, nil
}

// MarkTransferred ends an active assignment by a transfer to department to.
// ok is false when the assignment is no longer active.
func (s *Store) MarkTransferred(ctx context.Context, q Querier, id int64, to string, at time.Time) (ok bool, err error) {
	n, err := s.querier(q).Exec(ctx, `
		UPDATE assignments
		SET state = 'transferred', transferred_to = $2, updated_at = $3
		WHERE id = $1 AND state IN ('pending', 'claimed', 'replied')`, id, to, at)
	if err != nil {
		return false, fmt.Errorf("transfer assignment %d: %w", id, err)
	}
	return n == 1, nil
}

// SetAssignmentRole changes the role of an active assignment (a hand-over
// makes an assisting department the lead, and the former lead may stay on
// to assist). ok is false when the assignment is no longer active.
func (s *Store) SetAssignmentRole(ctx context.Context, q Querier, id int64, role model.Role, at time.Time) (ok bool, err error) {
	n, err := s.querier(q).Exec(ctx, `
		UPDATE assignments
		SET role = $2, updated_at = $3
		WHERE id = $1 AND state IN ('pending', 'claimed', 'replied')`, id, string(role), at)
	if err != nil {
		return false, fmt.Errorf("set role of assignment %d: %w", id, err)
	}
	return n == 1, nil
}

// Reopen takes a resolved assignment back to claimed with a new close
// deadline. ok is false when it is not resolved.
func (s *Store) Reopen(ctx context.Context, q Querier, id int64, closeBy, at time.Time) (ok bool, err error) {
	n, err := s.querier(q).Exec(ctx, `
		UPDATE assignments
		SET state = 'claimed', resolved_at = NULL, close_by = $2, updated_at = $3
		WHERE id = $1 AND state = 'resolved'`, id, closeBy, at)
	if err != nil {
		return false, fmt.Errorf("reopen assignment %d: %w", id, err)
	}
	return n == 1, nil
}

// Notice kinds: reminders before a deadline and cards after a missed one.
const (
	NoticeRemindClaim = "remind_claim"
	NoticeRemindReply = "remind_reply"
	NoticeRemindClose = "remind_close"
	NoticeYellow      = "yellow"
	NoticeOrange      = "orange"
	NoticeRed         = "red"
)

// Notice is a reminder or card issued for one deadline of an assignment.
type Notice struct {
	AssignmentID int64
	Kind         string
	Deadline     time.Time
	Department   string
	IssuedAt     time.Time
}

// InsertNotice records a notice once per (assignment, kind, deadline).
// inserted is false when it was issued already.
func (s *Store) InsertNotice(ctx context.Context, q Querier, n Notice) (inserted bool, err error) {
	// A clock restarted after a crash, or a second dispatcher, may issue the
	// same notice again; the primary key lets exactly one insert win.
	c, err := s.querier(q).Exec(ctx, `
		INSERT INTO notices (assignment_id, kind, deadline, department, issued_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (assignment_id, kind, deadline) DO NOTHING`,
		n.AssignmentID, n.Kind, n.Deadline, n.Department, n.IssuedAt)
	if err != nil {
		return false, fmt.Errorf("insert notice %s for assignment %d: %w", n.Kind, n.AssignmentID, err)
	}
	return c == 1, nil
}

// DueNotices returns, for active assignments, the notices that are due at
// now and not issued yet: a reminder when the deadline is not yet passed and
// now is within lead of it and two thirds of the way from the assignment's
// creation to it (so that a deadline shorter than lead is reminded of at two
// thirds of its time, not at once); a card when the deadline has passed (now
// is after it: a step done at the deadline itself is on time). Closing is
// the lead department's: an assisting department is reminded of and carded
// for its own claim and reply deadlines only. Kinds in skip are never
// returned. At most limit assignments are looked at per call.
func (s *Store) DueNotices(ctx context.Context, q Querier, now time.Time, lead time.Duration, limit int, skip map[string]bool) ([]Notice, error) {
	soon := now.Add(lead)
	on := func(kind string) bool { return !skip[kind] }
	// twoThirds is true when now is at least two thirds of the way from
	// created_at to the deadline x.
	twoThirds := func(x string) string {
		return `3 * (julianday(` + x + `) - julianday($1)) <= julianday(` + x + `) - julianday(a.created_at)`
	}
	if s.DB.Dialect() == Postgres {
		twoThirds = func(x string) string { return `3 * (` + x + ` - $1::timestamptz) <= ` + x + ` - a.created_at` }
	}
	// Each branch: the step is still open for the state, the deadline is
	// due, and no notice of that kind exists for this deadline.
	rows, err := s.querier(q).Query(ctx, `
		SELECT a.id, a.department, a.role, a.state, a.claim_by, a.reply_by, a.close_by, a.created_at
		FROM assignments a
		WHERE a.state IN ('pending', 'claimed', 'replied') AND (
		       (a.state = 'pending' AND $4 AND a.claim_by < $1
		        AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.assignment_id = a.id AND n.kind = 'yellow' AND n.deadline = a.claim_by))
		    OR (a.state = 'pending' AND $5 AND a.claim_by >= $1 AND a.claim_by <= $2 AND `+twoThirds("a.claim_by")+`
		        AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.assignment_id = a.id AND n.kind = 'remind_claim' AND n.deadline = a.claim_by))
		    OR (a.state IN ('pending', 'claimed') AND $6 AND a.reply_by < $1
		        AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.assignment_id = a.id AND n.kind = 'orange' AND n.deadline = a.reply_by))
		    OR (a.state IN ('pending', 'claimed') AND $7 AND a.reply_by >= $1 AND a.reply_by <= $2 AND `+twoThirds("a.reply_by")+`
		        AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.assignment_id = a.id AND n.kind = 'remind_reply' AND n.deadline = a.reply_by))
		    OR (a.role = 'lead' AND $8 AND a.close_by < $1
		        AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.assignment_id = a.id AND n.kind = 'red' AND n.deadline = a.close_by))
		    OR (a.role = 'lead' AND $9 AND a.close_by >= $1 AND a.close_by <= $2 AND `+twoThirds("a.close_by")+`
		        AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.assignment_id = a.id AND n.kind = 'remind_close' AND n.deadline = a.close_by))
		)
		ORDER BY a.id
		LIMIT $3`, now, soon, limit,
		on(NoticeYellow), on(NoticeRemindClaim), on(NoticeOrange), on(NoticeRemindReply), on(NoticeRed), on(NoticeRemindClose))
	if err != nil {
		return nil, fmt.Errorf("due notices: %w", err)
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		var (
			id                                   int64
			dept, role, state                    string
			claimBy, replyBy, closeBy, createdAt time.Time
		)
		if err := rows.Scan(&id, &dept, &role, &state, &claimBy, &replyBy, &closeBy, &createdAt); err != nil {
			return nil, fmt.Errorf("due notices: %w", err)
		}
		add := func(kind string, deadline time.Time) {
			if on(kind) {
				out = append(out, Notice{AssignmentID: id, Kind: kind, Deadline: deadline, Department: dept})
			}
		}
		step := func(open bool, deadline time.Time, remind, card string) {
			switch {
			case !open:
			case deadline.Before(now):
				add(card, deadline)
			case !now.Before(RemindAt(createdAt, deadline, lead)):
				add(remind, deadline)
			}
		}
		// Already-issued ones are returned too; InsertNotice drops them.
		step(state == "pending", claimBy, NoticeRemindClaim, NoticeYellow)
		step(state == "pending" || state == "claimed", replyBy, NoticeRemindReply, NoticeOrange)
		step(role == string(model.RoleLead), closeBy, NoticeRemindClose, NoticeRed)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due notices: %w", err)
	}
	return out, nil
}

// RemindAt is when the reminder of a deadline goes out: lead before it, but
// not before two thirds of the time from created to the deadline have
// passed.
func RemindAt(created, deadline time.Time, lead time.Duration) time.Time {
	at := deadline.Add(-lead)
	if third := deadline.Add(-deadline.Sub(created) / 3); third.After(at) {
		at = third
	}
	return at
}

// cards returns the cards issued for each assignment, in issue order.
func (s *Store) cards(ctx context.Context, q Querier, ids []int64) (map[int64][]model.Card, error) {
	out := map[int64][]model.Card{}
	if len(ids) == 0 {
		return out, nil
	}
	var w sqlWhere
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = w.arg(id)
	}
	rows, err := q.Query(ctx, `
		SELECT assignment_id, kind
		FROM notices
		WHERE kind IN ('yellow', 'orange', 'red') AND assignment_id IN (`+strings.Join(ph, ", ")+`)
		ORDER BY issued_at, kind`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("cards: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var kind string
		if err := rows.Scan(&id, &kind); err != nil {
			return nil, fmt.Errorf("cards: %w", err)
		}
		out[id] = append(out[id], model.Card(kind))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cards: %w", err)
	}
	return out, nil
}
