package store

import (
	"context"
	"fmt"
	"time"
)

// Web console roles.
const (
	RoleDepartment = "department"
	RoleOffice     = "office"
)

// WebSession is a signed-in user of the web console. IDHash is the hex
// SHA-256 of the cookie's token: a copy of the table lets nobody sign in.
// CSRF is the secret every form of the session carries in a hidden field.
type WebSession struct {
	IDHash    string
	Actor     string // department id, or the office's id
	Role      string // RoleDepartment or RoleOffice
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateWebSession records a new session.
func (s *Store) CreateWebSession(ctx context.Context, ws WebSession) error {
	_, err := s.DB.Exec(ctx, `
		INSERT INTO web_sessions (id_hash, actor, role, csrf, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		ws.IDHash, ws.Actor, ws.Role, ws.CSRF, ws.CreatedAt, ws.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create web session of %q: %w", ws.Actor, err)
	}
	return nil
}

// WebSessionByHash returns the session with the token hash that has not
// expired at now, or ErrNotFound.
func (s *Store) WebSessionByHash(ctx context.Context, idHash string, now time.Time) (WebSession, error) {
	ws := WebSession{IDHash: idHash}
	err := s.DB.QueryRow(ctx, `
		SELECT actor, role, csrf, created_at, expires_at
		FROM web_sessions
		WHERE id_hash = $1 AND expires_at > $2`, idHash, now).
		Scan(&ws.Actor, &ws.Role, &ws.CSRF, &ws.CreatedAt, &ws.ExpiresAt)
	if err != nil {
		return WebSession{}, fmt.Errorf("web session: %w", err)
	}
	return ws, nil
}

// DeleteWebSession ends a session (sign-out). Ending one that does not
// exist is not an error: signing out twice is harmless.
func (s *Store) DeleteWebSession(ctx context.Context, idHash string) error {
	if _, err := s.DB.Exec(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteExpiredWebSessions removes the sessions expired at now and says how
// many there were.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.DB.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return n, nil
}
