package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/mashangban/mashangban/model"
)

// DeadLetter is input that a stage could not handle (model.DeadLetter).
type DeadLetter = model.DeadLetter

// AddDeadLetter records d (idempotent per Stage and Key, see DeadLetter).
func (s *Store) AddDeadLetter(ctx context.Context, d DeadLetter) error {
	if d.Stage == "" || d.Reason == "" {
		return errors.New("add dead letter: stage and reason are required")
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = s.now()
	}
	var key any
	if d.Key != "" {
		key = d.Key
	}
	var raw any
	if d.Raw != nil {
		raw = d.Raw
	}
	// A message redelivered after a crash fails the same way again, possibly
	// on two consumers at once; UNIQUE (stage, key) with DO NOTHING keeps one.
	_, err := s.DB.Exec(ctx, `
		INSERT INTO dead_letters (stage, source, key, reason, raw, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (stage, key) DO NOTHING`,
		d.Stage, d.Source, key, d.Reason, raw, d.CreatedAt)
	if err != nil {
		return fmt.Errorf("add dead letter (%s %q): %w", d.Stage, d.Key, err)
	}
	return nil
}

// ListDeadLetters returns the newest letters first; limit 0 means all.
func (s *Store) ListDeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	q := `
		SELECT id, stage, source, COALESCE(key, ''), reason, raw, created_at
		FROM dead_letters
		ORDER BY created_at DESC, id DESC`
	var args []any
	if limit > 0 {
		q += "\n\t\tLIMIT $1"
		args = append(args, limit)
	}
	rows, err := s.DB.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		if err := rows.Scan(&d.ID, &d.Stage, &d.Source, &d.Key, &d.Reason, &d.Raw, &d.CreatedAt); err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// CountDeadLetters returns how many dead letters are stored.
func (s *Store) CountDeadLetters(ctx context.Context) (int, error) {
	var n int
	if err := s.DB.QueryRow(ctx, `
		SELECT count(*)
		FROM dead_letters`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return n, nil
}
