package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event is one entry of the audit log.
type Event struct {
	ID           int64
	At           time.Time
	Kind         string // e.g. "case.created", "card.yellow", "reply.sent"
	CaseID       *int64
	AssignmentID *int64
	PostID       string
	Actor        string // "system", a department id, a triage operator
	Detail       json.RawMessage
	// DedupKey, when set, makes the event (and the effect recorded in the
	// same transaction) happen at most once: a second append with the same
	// key is ignored. Empty means no deduplication.
	DedupKey string
}

// AppendEvent adds e to the audit log. inserted is false when an event with
// e.DedupKey already exists; the caller then knows the effect it guards was
// already recorded, and should not repeat it. q is the pool or a transaction
// (nil means the pool). A zero e.At means now; Detail defaults to {}.
func (s *Store) AppendEvent(ctx context.Context, q Querier, e Event) (inserted bool, err error) {
	if e.Kind == "" {
		return false, errors.New("append event: empty kind")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	detail := "{}"
	if len(e.Detail) > 0 {
		// Readers hand Detail on as json.RawMessage; one bad entry would
		// break every listing that includes it.
		if !json.Valid(e.Detail) {
			return false, fmt.Errorf("append event %q: detail is not valid JSON", e.Kind)
		}
		detail = string(e.Detail)
	}
	var key any
	if e.DedupKey != "" {
		key = e.DedupKey
	}
	// Two dispatchers (or a retry after a crash between effect and commit)
	// may try to record the same card or reminder at once; the unique
	// dedup_key lets one insert win, and DO NOTHING tells the other.
	n, err := s.querier(q).Exec(ctx, `
		INSERT INTO events (at, kind, case_id, assignment_id, post_id, actor, detail, dedup_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (dedup_key) DO NOTHING`,
		e.At, e.Kind, e.CaseID, e.AssignmentID, e.PostID, e.Actor, detail, key)
	if err != nil {
		return false, fmt.Errorf("append event %q: %w", e.Kind, err)
	}
	return n == 1, nil
}

// EventFilter selects events; zero fields do not filter.
type EventFilter struct {
	CaseID *int64
	Kind   string
	Since  time.Time // events at or after Since
	Limit  int       // 0 means no limit
}

// ListEvents returns matching events, oldest first (by ID, which is the
// order they were appended).
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.CaseID != nil {
		add("case_id = $?", *f.CaseID)
	}
	if f.Kind != "" {
		add("kind = $?", f.Kind)
	}
	if !f.Since.IsZero() {
		add("at >= $?", f.Since)
	}
	q := `
		SELECT id, at, kind, case_id, assignment_id, post_id, actor, detail, COALESCE(dedup_key, '')
		FROM events`
	if len(where) > 0 {
		q += "\n\t\tWHERE " + strings.Join(where, " AND ")
	}
	q += "\n\t\tORDER BY id"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += "\n\t\tLIMIT $" + strconv.Itoa(len(args))
	}
	rows, err := s.DB.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var detail string
		if err := rows.Scan(&e.ID, &e.At, &e.Kind, &e.CaseID, &e.AssignmentID, &e.PostID, &e.Actor, &detail, &e.DedupKey); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.Detail = json.RawMessage(detail)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}
