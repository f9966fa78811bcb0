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
// claimed, close at any active state).
func (s *Store) OverdueCounts(ctx context.Context, asOf time.Time) (map[string]int, error) {
	rows, err := s.DB.Query(ctx, `
		SELECT department, count(*)
		FROM assignments
		WHERE state IN ('pending', 'claimed', 'replied') AND (
		       (state = 'pending' AND claim_by < $1)
		    OR (state = 'claimed' AND reply_by < $1)
		    OR close_by < $1)
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
