package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
)

// currentDue is the deadline of an active assignment's current step: claim
// while pending, first reply while claimed, close while replied.
const currentDue = `CASE a.state WHEN 'pending' THEN a.claim_by WHEN 'claimed' THEN a.reply_by ELSE a.close_by END`

// hasCard is true for an assignment that was given a card.
const hasCard = `EXISTS (SELECT 1 FROM notices n WHERE n.assignment_id = a.id AND n.kind IN ('yellow', 'orange', 'red'))`

// InboxItem is an active assignment with what a list of work shows of its case.
type InboxItem struct {
	Assignment
	Summary   string
	Districts []model.District
	Priority  model.Priority
	Due       time.Time // the deadline of the current step
}

// InboxFilter selects active assignments; zero fields do not filter.
type InboxFilter struct {
	Department string
	District   string    // district code of the case
	OverdueAt  time.Time // only those whose current deadline is before this
	Carded     bool      // only those given a card
	// State keeps one active state (pending, claimed, replied).
	State model.AssignmentState
	// Text keeps cases whose summary or case number contains it (LIKE
	// semantics of the store: ASCII letters match either case in SQLite).
	Text  string
	Limit int // default 200, at most 1000
}

// likeEscaper makes a text literal inside a LIKE pattern escaped with '!'.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// Inbox returns active assignments, the nearest (or most overdue) deadline
// first, with their cards.
func (s *Store) Inbox(ctx context.Context, f InboxFilter) ([]InboxItem, error) {
	var w sqlWhere
	w.conds = append(w.conds, "a.state IN ('pending', 'claimed', 'replied')")
	if f.Department != "" {
		w.add("a.department = $?", f.Department)
	}
	if f.District != "" {
		w.add("c.district = $?", f.District)
	}
	if !f.OverdueAt.IsZero() {
		w.add(currentDue+" < $?", f.OverdueAt)
	}
	if f.Carded {
		w.conds = append(w.conds, hasCard)
	}
	if f.State != "" {
		w.add("a.state = $?", string(f.State))
	}
	if f.Text != "" {
		w.add("(c.summary LIKE $? ESCAPE '!' OR c.case_no LIKE $? ESCAPE '!')", "%"+likeEscaper.Replace(f.Text)+"%")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 200
	}
	rows, err := s.DB.Query(ctx, `
		SELECT `+assignmentColumns+`, c.summary, c.districts, c.priority, `+currentDue+` AS due
		FROM assignments a JOIN cases c ON c.id = a.case_id`+w.clause()+`
		ORDER BY due, a.id
		LIMIT `+w.arg(min(limit, 1000)), w.args...)
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	out, err := collectRows(rows, func(r scanner) (InboxItem, error) {
		var it InboxItem
		var role, state, districts, prio string
		err := r.Scan(&it.ID, &it.CaseID, &it.CaseNo, &it.Department, &role, &state, &it.PolicyVersion,
			&it.ClaimBy, &it.ReplyBy, &it.CloseBy, &it.ClaimedAt, &it.RepliedAt, &it.ResolvedAt,
			&it.TransferredTo, &it.TransferredFrom, &it.CreatedAt, &it.UpdatedAt,
			&it.Summary, &districts, &prio, &it.Due)
		if err != nil {
			return it, err
		}
		it.Role, it.State, it.Priority = model.Role(role), model.AssignmentState(state), model.Priority(prio)
		if err := json.Unmarshal([]byte(districts), &it.Districts); err != nil {
			return it, fmt.Errorf("case %s districts: %w", it.CaseNo, err)
		}
		return it, nil
	})
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	ids := make([]int64, len(out))
	for i, it := range out {
		ids[i] = it.ID
	}
	cards, err := s.cards(ctx, s.DB, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Cards = cards[out[i].ID]
	}
	return out, nil
}

// WorkCount is how much active work one department, or one district, holds.
type WorkCount struct {
	Key     string // department id or district code
	Name    string // district name (districts only; departments are named by the caller)
	Open    int    // active assignments (departments) or open cases (districts)
	Overdue int    // active assignments past their current deadline
	Carded  int    // active assignments given a card
}

// WorkCounts is the office's overview of work in progress at a time.
type WorkCounts struct {
	Departments []WorkCount // most open first
	Districts   []WorkCount // most open first
	Assignments WorkCount   // all departments together
	Triage      int         // posts waiting to be routed by hand
}

// CountWork counts active assignments per department (open, overdue at now,
// carded), open cases per district, and the triage queue.
func (s *Store) CountWork(ctx context.Context, now time.Time) (WorkCounts, error) {
	var out WorkCounts
	rows, err := s.DB.Query(ctx, `
		SELECT a.department, count(*),
		       COALESCE(SUM(CASE WHEN `+currentDue+` < $1 THEN 1 ELSE 0 END), 0),
		       COALESCE(SUM(CASE WHEN `+hasCard+` THEN 1 ELSE 0 END), 0)
		FROM assignments a
		WHERE a.state IN ('pending', 'claimed', 'replied')
		GROUP BY a.department
		ORDER BY count(*) DESC, a.department`, now)
	if err != nil {
		return out, fmt.Errorf("count work: %w", err)
	}
	out.Departments, err = collectRows(rows, func(r scanner) (WorkCount, error) {
		var c WorkCount
		err := r.Scan(&c.Key, &c.Open, &c.Overdue, &c.Carded)
		return c, err
	})
	if err != nil {
		return out, fmt.Errorf("count work: %w", err)
	}
	for _, c := range out.Departments {
		out.Assignments.Open += c.Open
		out.Assignments.Overdue += c.Overdue
		out.Assignments.Carded += c.Carded
	}
	// MIN(districts) picks one case's district list per code, for the name.
	rows, err = s.DB.Query(ctx, `
		SELECT district, count(*), MIN(districts)
		FROM cases
		WHERE status = 'open'
		GROUP BY district
		ORDER BY count(*) DESC, district`)
	if err != nil {
		return out, fmt.Errorf("count open cases: %w", err)
	}
	out.Districts, err = collectRows(rows, func(r scanner) (WorkCount, error) {
		var c WorkCount
		var districts string
		if err := r.Scan(&c.Key, &c.Open, &districts); err != nil {
			return c, err
		}
		var ds []model.District
		if json.Unmarshal([]byte(districts), &ds) == nil {
			for _, d := range ds {
				if d.Code == c.Key {
					c.Name = d.Name
				}
			}
		}
		return c, nil
	})
	if err != nil {
		return out, fmt.Errorf("count open cases: %w", err)
	}
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM triage WHERE state = 'waiting'`).Scan(&out.Triage); err != nil {
		return out, fmt.Errorf("count triage: %w", err)
	}
	return out, nil
}
