package store

import (
	"context"
	"fmt"
)

// LabelledCase is a case as the office and the departments left it: its
// final lead department and category (after transfers) and the text of
// the post that opened it. A case that a person routed out of triage, or
// that was transferred, is a label given by hand.
type LabelledCase struct {
	CaseID   int64
	CaseNo   string
	Lead     string // department id
	Category string // category id, "" when none was decided
	Text     string
	// ByHand: routed from triage by a person, or transferred at least
	// once.
	ByHand bool
}

// LabelledFilter selects the cases LabelledCases returns.
type LabelledFilter struct {
	// ByHandOnly keeps only the cases a person routed or transferred.
	ByHandOnly bool
}

// LabelledCases returns every case with a lead department, oldest first,
// as training examples for the learned fallback.
func (s *Store) LabelledCases(ctx context.Context, f LabelledFilter) ([]LabelledCase, error) {
	byHand := `(EXISTS (SELECT 1 FROM triage t WHERE t.case_id = c.id AND t.state = 'routed')
		OR EXISTS (SELECT 1 FROM assignments a WHERE a.case_id = c.id AND a.state = 'transferred'))`
	where := "c.lead <> ''"
	if f.ByHandOnly {
		where += " AND " + byHand
	}
	rows, err := s.DB.Query(ctx, `
		SELECT c.id, c.case_no, c.lead, c.category, p.text,
			CASE WHEN `+byHand+` THEN 1 ELSE 0 END
		FROM cases c
		JOIN posts p ON p.post_id = c.first_post_id
		WHERE `+where+`
		ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("labelled cases: %w", err)
	}
	out, err := collectRows(rows, func(r scanner) (LabelledCase, error) {
		var lc LabelledCase
		var hand int64
		err := r.Scan(&lc.CaseID, &lc.CaseNo, &lc.Lead, &lc.Category, &lc.Text, &hand)
		lc.ByHand = hand == 1
		return lc, err
	})
	if err != nil {
		return nil, fmt.Errorf("labelled cases: %w", err)
	}
	return out, nil
}
