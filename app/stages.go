package app

import (
	"context"
	"errors"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/store"
)

// cursorStore adapts the store's cursors to the poller.
type cursorStore struct{ st *store.Store }

func (c cursorStore) Cursor(ctx context.Context, source string) (string, string, error) {
	q, cur, err := c.st.Cursor(ctx, source)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", ingest.ErrNoCursor
	}
	return q, cur, err
}

func (c cursorStore) SaveCursor(ctx context.Context, source, query, cursor string) error {
	return c.st.SaveCursor(ctx, source, query, cursor)
}
