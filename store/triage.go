package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mashangban/mashangban/model"
)

// Triage states.
const (
	TriageWaiting = "waiting"
	TriageRouted  = "routed"
)

// TriageItem is a decision waiting for staff to route it by hand.
type TriageItem struct {
	PostID    string         `json:"post_id"`
	Decision  model.Decision `json:"decision"`
	Reason    string         `json:"reason"`
	District  string         `json:"district,omitempty"`
	State     string         `json:"state"`
	CaseID    *int64         `json:"case_id,omitempty"`
	RoutedBy  string         `json:"routed_by,omitempty"`
	RoutedWhy string         `json:"routed_why,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	RoutedAt  *time.Time     `json:"routed_at,omitempty"`
}

// InsertTriage puts a decision in the triage queue. inserted is false when
// the post is already there.
func (s *Store) InsertTriage(ctx context.Context, q Querier, it TriageItem) (inserted bool, err error) {
	dec, err := json.Marshal(it.Decision)
	if err != nil {
		return false, fmt.Errorf("triage %q: %w", it.PostID, err)
	}
	// A redelivered triage decision: the primary key keeps one entry.
	n, err := s.querier(q).Exec(ctx, `
		INSERT INTO triage (post_id, decision, reason, district, state, created_at)
		VALUES ($1, $2, $3, $4, 'waiting', $5)
		ON CONFLICT (post_id) DO NOTHING`,
		it.PostID, string(dec), it.Reason, it.District, it.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("triage %q: %w", it.PostID, err)
	}
	return n == 1, nil
}

const triageColumns = `post_id, decision, reason, district, state, case_id, routed_by, routed_why, created_at, routed_at`

func scanTriage(r scanner) (TriageItem, error) {
	var it TriageItem
	var dec string
	if err := r.Scan(&it.PostID, &dec, &it.Reason, &it.District, &it.State, &it.CaseID,
		&it.RoutedBy, &it.RoutedWhy, &it.CreatedAt, &it.RoutedAt); err != nil {
		return TriageItem{}, err
	}
	if err := json.Unmarshal([]byte(dec), &it.Decision); err != nil {
		return TriageItem{}, fmt.Errorf("triage %q decision: %w", it.PostID, err)
	}
	return it, nil
}

// GetTriage returns the triage entry of a post, or ErrNotFound.
func (s *Store) GetTriage(ctx context.Context, q Querier, postID string) (TriageItem, error) {
	it, err := scanTriage(s.querier(q).QueryRow(ctx, `
		SELECT `+triageColumns+`
		FROM triage
		WHERE post_id = $1`, postID))
	if err != nil {
		return TriageItem{}, fmt.Errorf("get triage %q: %w", postID, err)
	}
	return it, nil
}

// ListTriage returns triage entries in the given state ("" for all), oldest
// first, at most limit (default 100).
func (s *Store) ListTriage(ctx context.Context, state string, limit int) ([]TriageItem, error) {
	var w sqlWhere
	if state != "" {
		w.add("state = $?", state)
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.DB.Query(ctx, `
		SELECT `+triageColumns+`
		FROM triage`+w.clause()+`
		ORDER BY created_at, post_id
		LIMIT `+w.arg(min(limit, 1000)), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list triage: %w", err)
	}
	out, err := collectRows(rows, scanTriage)
	if err != nil {
		return nil, fmt.Errorf("list triage: %w", err)
	}
	return out, nil
}

// MarkRouted records who routed a waiting triage entry into which case and
// why. ok is false when it is not waiting (routed already).
func (s *Store) MarkRouted(ctx context.Context, q Querier, postID string, caseID int64, by, why string, at time.Time) (ok bool, err error) {
	n, err := s.querier(q).Exec(ctx, `
		UPDATE triage
		SET state = 'routed', case_id = $2, routed_by = $3, routed_why = $4, routed_at = $5
		WHERE post_id = $1 AND state = 'waiting'`, postID, caseID, by, why, at)
	if err != nil {
		return false, fmt.Errorf("route triage %q: %w", postID, err)
	}
	return n == 1, nil
}
