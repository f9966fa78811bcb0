package store

import (
	"context"
	"fmt"
	"time"
)

// WeekCounts are one department's figures for the assignments it received
// in a week.
type WeekCounts struct {
	Department     string
	Received       int // assignments created in the week (transfers in included)
	ClaimedOnTime  int // of those, claimed by the claim deadline
	RepliedOnTime  int // first reply by the reply deadline
	ClosedInWeek   int // resolved within 7 days of creation
	Resolved       int // resolved by asOf
	TransferredOut int // handed to another department
}

// WeekAssignmentCounts counts, per department, the assignments created in
// [from, to), looking at their state at asOf.
func (s *Store) WeekAssignmentCounts(ctx context.Context, from, to, asOf time.Time) ([]WeekCounts, error) {
	within := `julianday(resolved_at) - julianday(created_at) <= 7`
	if s.DB.Dialect() == Postgres {
		within = `resolved_at <= created_at + interval '7 days'`
	}
	rows, err := s.DB.Query(ctx, `
		SELECT department,
		       count(*),
		       SUM(CASE WHEN claimed_at IS NOT NULL AND claimed_at <= claim_by AND claimed_at <= $3 THEN 1 ELSE 0 END),
		       SUM(CASE WHEN replied_at IS NOT NULL AND replied_at <= reply_by AND replied_at <= $3 THEN 1 ELSE 0 END),
		       SUM(CASE WHEN resolved_at IS NOT NULL AND resolved_at <= $3 AND `+within+` THEN 1 ELSE 0 END),
		       SUM(CASE WHEN state = 'resolved' AND resolved_at <= $3 THEN 1 ELSE 0 END),
		       SUM(CASE WHEN state = 'transferred' THEN 1 ELSE 0 END)
		FROM assignments
		WHERE created_at >= $1 AND created_at < $2
		GROUP BY department
		ORDER BY department`, from, to, asOf)
	if err != nil {
		return nil, fmt.Errorf("week counts: %w", err)
	}
	defer rows.Close()
	var out []WeekCounts
	for rows.Next() {
		var c WeekCounts
		if err := rows.Scan(&c.Department, &c.Received, &c.ClaimedOnTime, &c.RepliedOnTime, &c.ClosedInWeek, &c.Resolved, &c.TransferredOut); err != nil {
			return nil, fmt.Errorf("week counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("week counts: %w", err)
	}
	return out, nil
}

// OverdueCounts counts, per department, the active assignments whose current
// step is past its deadline at asOf (claim while pending, first reply while
// claimed, close at any active state for the lead; closing is not an
// assisting department's step).
func (s *Store) OverdueCounts(ctx context.Context, asOf time.Time) (map[string]int, error) {
	rows, err := s.DB.Query(ctx, `
		SELECT department, count(*)
		FROM assignments
		WHERE state IN ('pending', 'claimed', 'replied') AND (
		       (state = 'pending' AND claim_by < $1)
		    OR (state = 'claimed' AND reply_by < $1)
		    OR (role = 'lead' AND close_by < $1))
		GROUP BY department`, asOf)
	if err != nil {
		return nil, fmt.Errorf("overdue counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var d string
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("overdue counts: %w", err)
		}
		out[d] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("overdue counts: %w", err)
	}
	return out, nil
}

// CardCounts counts the cards issued in [from, to) per department and colour.
func (s *Store) CardCounts(ctx context.Context, from, to time.Time) (map[string]map[string]int, error) {
	rows, err := s.DB.Query(ctx, `
		SELECT department, kind, count(*)
		FROM notices
		WHERE kind IN ('yellow', 'orange', 'red') AND issued_at >= $1 AND issued_at < $2
		GROUP BY department, kind`, from, to)
	if err != nil {
		return nil, fmt.Errorf("card counts: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var d, k string
		var n int
		if err := rows.Scan(&d, &k, &n); err != nil {
			return nil, fmt.Errorf("card counts: %w", err)
		}
		if out[d] == nil {
			out[d] = map[string]int{}
		}
		out[d][k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("card counts: %w", err)
	}
	return out, nil
}

// ExposedAssignment is an assignment the weekly exposure list ("一周一曝光")
// considers: one that earned an orange or red card in the week, or that is
// past the deadline of its current step when the report is read.
type ExposedAssignment struct {
	ID         int64
	CaseNo     string
	Department string
	Role       string
	State      string
	ClaimBy    time.Time
	ReplyBy    time.Time
	CloseBy    time.Time
	ClaimedAt  *time.Time
	RepliedAt  *time.Time
	ResolvedAt *time.Time
	UpdatedAt  time.Time // for a transferred assignment, when it was handed on
	Summary    string    // the citizen's words: the text of the case's first post
	Orange     int       // orange cards issued in the week
	Red        int       // red cards issued in the week
}

// ExposedAssignments returns the assignments that earned an orange or red
// card in [from, to) and the active ones whose current step is overdue at
// asOf (the OverdueCounts condition), with their case's number and first
// post, ordered by case number.
func (s *Store) ExposedAssignments(ctx context.Context, from, to, asOf time.Time) ([]ExposedAssignment, error) {
	rows, err := s.DB.Query(ctx, `
		SELECT a.id, c.case_no, a.department, a.role, a.state,
		       a.claim_by, a.reply_by, a.close_by, a.claimed_at, a.replied_at, a.resolved_at, a.updated_at,
		       c.summary,
		       (SELECT count(*) FROM notices n
		        WHERE n.assignment_id = a.id AND n.kind = 'orange' AND n.issued_at >= $1 AND n.issued_at < $2),
		       (SELECT count(*) FROM notices n
		        WHERE n.assignment_id = a.id AND n.kind = 'red' AND n.issued_at >= $1 AND n.issued_at < $2)
		FROM assignments a
		JOIN cases c ON c.id = a.case_id
		WHERE EXISTS (SELECT 1 FROM notices n
		              WHERE n.assignment_id = a.id AND n.kind IN ('orange', 'red')
		                AND n.issued_at >= $1 AND n.issued_at < $2)
		   OR (a.state IN ('pending', 'claimed', 'replied') AND (
		          (a.state = 'pending' AND a.claim_by < $3)
		       OR (a.state = 'claimed' AND a.reply_by < $3)
		       OR (a.role = 'lead' AND a.close_by < $3)))
		ORDER BY c.case_no, a.id`, from, to, asOf)
	if err != nil {
		return nil, fmt.Errorf("exposed assignments: %w", err)
	}
	out, err := collectRows(rows, func(r scanner) (ExposedAssignment, error) {
		var e ExposedAssignment
		err := r.Scan(&e.ID, &e.CaseNo, &e.Department, &e.Role, &e.State, &e.ClaimBy, &e.ReplyBy, &e.CloseBy,
			&e.ClaimedAt, &e.RepliedAt, &e.ResolvedAt, &e.UpdatedAt, &e.Summary, &e.Orange, &e.Red)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("exposed assignments: %w", err)
	}
	return out, nil
}

// WeekTotals are the week's figures for the special report ("一周一专报").
type WeekTotals struct {
	Posts    int // posts that entered a case in the week (new cases and repeats)
	Repeats  int // of those, merged into an existing case
	NewCases int // cases opened in the week
}

// WeekTotals counts the posts placed into cases in [from, to) and the cases
// opened then. Posts still waiting in triage are not in a case yet and are
// not counted.
func (s *Store) WeekTotals(ctx context.Context, from, to time.Time) (WeekTotals, error) {
	var t WeekTotals
	err := s.DB.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM case_posts WHERE merged_at >= $1 AND merged_at < $2),
		       (SELECT count(*) FROM case_posts WHERE role = 'repeat' AND merged_at >= $1 AND merged_at < $2),
		       (SELECT count(*) FROM cases WHERE created_at >= $1 AND created_at < $2)`, from, to).
		Scan(&t.Posts, &t.Repeats, &t.NewCases)
	if err != nil {
		return WeekTotals{}, fmt.Errorf("week totals: %w", err)
	}
	return t, nil
}

// TallyBy is what WeekTally groups the week's posts by.
type TallyBy string

// The groupings of WeekTally: the case's category, first district (code)
// and finest place key ("compound:东方城二区").
const (
	ByCategory TallyBy = "category"
	ByDistrict TallyBy = "district"
	ByPlace    TallyBy = "place"
)

// Tally is one group of the week's posts.
type Tally struct {
	Key   string // category, district code or place key; "" for cases without one
	Posts int    // posts placed in the week into cases of this group
	Cases int    // distinct cases those posts are in
	// Districts is the JSON list of the group's districts (code and name) of
	// one of its cases; set for ByDistrict only, to name the district.
	Districts string
}

// WeekTally groups the posts placed into cases in [from, to) by the cases'
// category, district or place, most posts first (then by key); limit <= 0
// returns every group. Places are tallied only where a case has one.
func (s *Store) WeekTally(ctx context.Context, from, to time.Time, by TallyBy, limit int) ([]Tally, error) {
	// The column comes from this fixed set, never from the caller's text.
	var col, districts, where string
	switch by {
	case ByCategory:
		col, districts = "c.category", "''"
	case ByDistrict:
		col, districts = "c.district", "min(c.districts)"
	case ByPlace:
		col, districts, where = "c.place", "''", " AND c.place <> ''"
	default:
		return nil, fmt.Errorf("week tally: unknown grouping %q", by)
	}
	q := `
		SELECT ` + col + `, count(*), count(DISTINCT c.id), ` + districts + `
		FROM case_posts p
		JOIN cases c ON c.id = p.case_id
		WHERE p.merged_at >= $1 AND p.merged_at < $2` + where + `
		GROUP BY ` + col + `
		ORDER BY count(*) DESC, ` + col
	args := []any{from, to}
	if limit > 0 {
		q += ` LIMIT $3`
		args = append(args, limit)
	}
	rows, err := s.DB.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("week tally by %s: %w", by, err)
	}
	out, err := collectRows(rows, func(r scanner) (Tally, error) {
		var t Tally
		err := r.Scan(&t.Key, &t.Posts, &t.Cases, &t.Districts)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("week tally by %s: %w", by, err)
	}
	return out, nil
}

// RepeatedCase is a case that citizens reported again in the week.
type RepeatedCase struct {
	CaseNo   string
	Category string
	Place    string // place key, "" when none
	Lead     string // department ID
	Summary  string
	Status   string
	Repeats  int // repeat posts merged into it in the week
	Posts    int // posts in it, all time
}

// RepeatedCases returns the cases with repeat posts merged in [from, to),
// most repeats first (then by case number), at most limit (<= 0: all).
func (s *Store) RepeatedCases(ctx context.Context, from, to time.Time, limit int) ([]RepeatedCase, error) {
	q := `
		SELECT c.case_no, c.category, c.place, c.lead, c.summary, c.status, count(*),
		       (SELECT count(*) FROM case_posts q WHERE q.case_id = c.id)
		FROM case_posts p
		JOIN cases c ON c.id = p.case_id
		WHERE p.role = 'repeat' AND p.merged_at >= $1 AND p.merged_at < $2
		GROUP BY c.id, c.case_no, c.category, c.place, c.lead, c.summary, c.status
		ORDER BY count(*) DESC, c.case_no`
	args := []any{from, to}
	if limit > 0 {
		q += ` LIMIT $3`
		args = append(args, limit)
	}
	rows, err := s.DB.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("repeated cases: %w", err)
	}
	out, err := collectRows(rows, func(r scanner) (RepeatedCase, error) {
		var c RepeatedCase
		err := r.Scan(&c.CaseNo, &c.Category, &c.Place, &c.Lead, &c.Summary, &c.Status, &c.Repeats, &c.Posts)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("repeated cases: %w", err)
	}
	return out, nil
}
