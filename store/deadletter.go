package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
)

// DeadLetter is input that a stage could not handle (model.DeadLetter).
type DeadLetter = model.DeadLetter

// AddDeadLetter records d (idempotent per Stage, Source and Key, see DeadLetter).
func (s *Store) AddDeadLetter(ctx context.Context, d DeadLetter) error {
	_, err := s.AddDeadLetterQ(ctx, nil, d)
	return err
}

// AddDeadLetterQ records d on q (the pool when nil, or a transaction) and
// says whether it was new: false means a letter with the same stage, source
// and key was already kept. Text fields are made storable first (NUL
// dropped, invalid UTF-8 replaced): a dead letter is the last stop for bad
// input and must not fail on the very bytes that sent it there.
func (s *Store) AddDeadLetterQ(ctx context.Context, q Querier, d DeadLetter) (inserted bool, err error) {
	if d.Stage == "" || d.Reason == "" {
		return false, errors.New("add dead letter: stage and reason are required")
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = s.now()
	}
	d.Stage, d.Source, d.Key, d.Reason = keyable(d.Stage), keyable(d.Source), keyable(d.Key), storable(d.Reason)
	var key any
	if d.Key != "" {
		key = d.Key
	}
	var raw any
	if d.Raw != nil {
		raw = d.Raw
	}
	// A message redelivered after a crash fails the same way again, possibly
	// on two consumers at once; UNIQUE (stage, source, key) with DO NOTHING
	// keeps one. The source is part of the key because keys such as a
	// replay file's "line:N" repeat across sources.
	n, err := s.querier(q).Exec(ctx, `
		INSERT INTO dead_letters (stage, source, key, reason, raw, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (stage, source, key) DO NOTHING`,
		d.Stage, d.Source, key, d.Reason, raw, d.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("add dead letter (%s %q): %w", d.Stage, d.Key, err)
	}
	return n == 1, nil
}

// maxKeyBytes bounds the key columns of a dead letter: PostgreSQL refuses
// an index entry over about 2.7 kB.
const maxKeyBytes = 512

// keyable is storable(s) short enough for the unique index: a longer value
// keeps its start and a hash of the whole, so two long keys that share a
// start stay apart.
func keyable(s string) string {
	s = storable(s)
	if len(s) <= maxKeyBytes {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	n := maxKeyBytes - 40
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…" + hex.EncodeToString(sum[:16])
}

// storable is s as both databases take it in a text column: valid UTF-8
// without NUL.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
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
