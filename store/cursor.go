package store

import (
	"context"
	"fmt"
)

// Cursor returns the saved resume point of source and the query it was
// saved for (a changed query means the cursor no longer applies), or
// ErrNotFound when none is saved.
func (s *Store) Cursor(ctx context.Context, source string) (query, cursor string, err error) {
	err = s.DB.QueryRow(ctx, `
		SELECT query, cursor
		FROM source_cursors
		WHERE source = $1`, source).Scan(&query, &cursor)
	if err != nil {
		return "", "", fmt.Errorf("cursor of source %q: %w", source, err)
	}
	return query, cursor, nil
}

// SaveCursor stores the resume point of source, replacing the previous one.
// Call it only once the posts it covers are durably handed on.
func (s *Store) SaveCursor(ctx context.Context, source, query, cursor string) error {
	// An upsert, so that the first save of a source racing another (two
	// replicas both polling before either saved) cannot fail on the key.
	_, err := s.DB.Exec(ctx, `
		INSERT INTO source_cursors (source, query, cursor, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (source) DO UPDATE
		SET query = excluded.query,
		    cursor = excluded.cursor,
		    updated_at = excluded.updated_at`,
		source, query, cursor, s.now())
	if err != nil {
		return fmt.Errorf("save cursor of source %q: %w", source, err)
	}
	return nil
}
