package store

import (
	"context"
	"fmt"
	"time"
)

// DepartmentToken is an API token of a department, by its hex SHA-256.
type DepartmentToken struct {
	Department string
	TokenHash  string
	Role       string // "department" or "supervisor"
}

// SaveDepartmentTokens records the configured tokens (hashes only), one per
// department, replacing earlier ones. The tokens of departments not in toks
// are deleted: toks is the whole configured set.
func (s *Store) SaveDepartmentTokens(ctx context.Context, toks []DepartmentToken, at time.Time) error {
	return s.DB.InTx(ctx, func(tx Tx) error {
		keep := map[string]bool{}
		for _, t := range toks {
			keep[t.Department] = true
		}
		rows, err := tx.Query(ctx, `SELECT department FROM department_tokens`)
		if err != nil {
			return fmt.Errorf("list tokens: %w", err)
		}
		var stale []string
		for rows.Next() {
			var dep string
			if err := rows.Scan(&dep); err != nil {
				rows.Close()
				return fmt.Errorf("list tokens: %w", err)
			}
			if !keep[dep] {
				stale = append(stale, dep)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list tokens: %w", err)
		}
		rows.Close()
		for _, dep := range stale {
			if _, err := tx.Exec(ctx, `DELETE FROM department_tokens WHERE department = $1`, dep); err != nil {
				return fmt.Errorf("remove token of %q: %w", dep, err)
			}
		}
		for _, t := range toks {
			// A token moved from one department to another: free it first.
			if _, err := tx.Exec(ctx, `DELETE FROM department_tokens WHERE token_hash = $1 AND department <> $2`, t.TokenHash, t.Department); err != nil {
				return fmt.Errorf("save token of %q: %w", t.Department, err)
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO department_tokens (department, token_hash, role, updated_at)
				VALUES ($1, $2, $3, $4)
				ON CONFLICT (department) DO UPDATE SET token_hash = $2, role = $3, updated_at = $4`,
				t.Department, t.TokenHash, t.Role, at); err != nil {
				return fmt.Errorf("save token of %q: %w", t.Department, err)
			}
		}
		return nil
	})
}

// DepartmentByToken returns the department holding the token hash, or
// ErrNotFound.
func (s *Store) DepartmentByToken(ctx context.Context, hash string) (DepartmentToken, error) {
	t := DepartmentToken{TokenHash: hash}
	err := s.DB.QueryRow(ctx, `
		SELECT department, role
		FROM department_tokens
		WHERE token_hash = $1`, hash).Scan(&t.Department, &t.Role)
	if err != nil {
		return DepartmentToken{}, fmt.Errorf("department by token: %w", err)
	}
	return t, nil
}
