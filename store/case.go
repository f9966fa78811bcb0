package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
)

// NewCase is a case to insert, with what repeat detection keeps of its first
// post.
type NewCase struct {
	Case     model.Case // ID, PostIDs and UpdatedAt are ignored
	District string     // first district code, "" when none
	SimHash  int64
	Tokens   []string // content words of the first post
	Place    string   // finest place key, "" when none
}

// RepeatCandidate is an open case as repeat detection sees it.
type RepeatCandidate struct {
	ID        int64
	No        string
	Lead      string
	Category  string
	Place     string
	SimHash   int64
	Tokens    []string
	CreatedAt time.Time
}

// CasePost is a post's entry in a case.
type CasePost struct {
	PostID       string
	CaseID       int64
	Role         string // "origin" or "repeat"
	Score        float64
	MergedAt     time.Time
	UnmergedFrom *int64
	UnmergedAt   *time.Time
}

// Case post roles.
const (
	CasePostOrigin = "origin"
	CasePostRepeat = "repeat"
)

// NextCounter increments the named counter and returns its new value,
// starting at 1. Run it in the transaction that uses the value: the row lock
// (PostgreSQL) or the write lock (SQLite) orders concurrent callers, and a
// rollback gives the number back.
func (s *Store) NextCounter(ctx context.Context, q Querier, name string) (int64, error) {
	var v int64
	err := s.querier(q).QueryRow(ctx, `
		INSERT INTO counters (name, value)
		VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET value = counters.value + 1
		RETURNING value`, name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("next counter %q: %w", name, err)
	}
	return v, nil
}

// InsertCase inserts c and returns its ID. The case number must be unique.
func (s *Store) InsertCase(ctx context.Context, q Querier, c NewCase) (int64, error) {
	districts, err := json.Marshal(nonNilSlice(c.Case.Districts))
	if err != nil {
		return 0, fmt.Errorf("insert case %q: %w", c.Case.No, err)
	}
	tokens, err := json.Marshal(nonNilSlice(c.Tokens))
	if err != nil {
		return 0, fmt.Errorf("insert case %q: %w", c.Case.No, err)
	}
	var id int64
	err = s.querier(q).QueryRow(ctx, `
		INSERT INTO cases (
			case_no, status, district, districts, category, priority, lead, summary,
			first_post_id, simhash, tokens, place, rule_set_version, created_at, updated_at
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
		RETURNING id`,
		c.Case.No, string(c.Case.Status), c.District, string(districts), c.Case.Category,
		string(c.Case.Priority), c.Case.Lead, c.Case.Summary, c.Case.FirstPostID, c.SimHash,
		string(tokens), c.Place, c.Case.RuleSetVersion, c.Case.CreatedAt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert case %q: %w", c.Case.No, err)
	}
	if c.Case.Status == model.CaseOpen {
		if err := s.insertRepeatKeys(ctx, q, id, RepeatProbe{District: c.District, Tokens: c.Tokens, SimHash: c.SimHash, Place: c.Place, Category: c.Case.Category}); err != nil {
			return 0, err
		}
	}
	return id, nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// RepeatCandidates returns the open cases of the probe's district created at
// or after since that share at least one case_lsh key with the probe (see
// lsh.go), newest first, at most limit. The caller decides which of them,
// if any, is a repeat.
func (s *Store) RepeatCandidates(ctx context.Context, q Querier, probe RepeatProbe, since time.Time, limit int) ([]RepeatCandidate, error) {
	keys := repeatKeys(probe, true)
	if len(keys) == 0 {
		return nil, nil
	}
	args := []any{probe.District, since, limit}
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteString("\n\t\t\tUNION ")
		}
		fmt.Fprintf(&sb, "SELECT case_id FROM case_lsh WHERE band = $%d AND bucket = $%d", len(args)+1, len(args)+2)
		args = append(args, k.band, k.bucket)
	}
	// The keys' cases first, then each by its primary key: CROSS JOIN is
	// SQLite's way to fix that order (left to right), which its planner
	// would otherwise turn round, scanning every open case of the district
	// and probing the keys; PostgreSQL plans it as a plain join.
	rows, err := s.querier(q).Query(ctx, `
		SELECT c.id, c.case_no, c.lead, c.category, c.place, c.simhash, c.tokens, c.created_at
		FROM (
			`+sb.String()+`
		) k
		CROSS JOIN cases c
		WHERE c.id = k.case_id AND c.district = $1 AND c.status = 'open' AND c.created_at >= $2
		ORDER BY c.created_at DESC, c.id DESC
		LIMIT $3`, args...)
	if err != nil {
		return nil, fmt.Errorf("repeat candidates in %q: %w", probe.District, err)
	}
	out, err := collectRows(rows, func(r scanner) (RepeatCandidate, error) {
		var c RepeatCandidate
		var tokens string
		if err := r.Scan(&c.ID, &c.No, &c.Lead, &c.Category, &c.Place, &c.SimHash, &tokens, &c.CreatedAt); err != nil {
			return c, err
		}
		if err := json.Unmarshal([]byte(tokens), &c.Tokens); err != nil {
			return c, fmt.Errorf("case %d tokens: %w", c.ID, err)
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("repeat candidates in %q: %w", probe.District, err)
	}
	return out, nil
}

// PostHandled reports whether the post is already in a case or in triage:
// a redelivered decision for it must change nothing.
func (s *Store) PostHandled(ctx context.Context, q Querier, postID string) (bool, error) {
	var n int
	err := s.querier(q).QueryRow(ctx, `
		SELECT (SELECT count(*) FROM case_posts WHERE post_id = $1)
		     + (SELECT count(*) FROM triage WHERE post_id = $1)`, postID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("post handled %q: %w", postID, err)
	}
	return n > 0, nil
}

// AddCasePost records that a post is in a case. inserted is false when the
// post is already in a case (the one-case-entry-per-post key).
func (s *Store) AddCasePost(ctx context.Context, q Querier, p CasePost) (inserted bool, err error) {
	// Two dispatchers handling a redelivered decision race here; the primary
	// key on post_id lets one insert win.
	n, err := s.querier(q).Exec(ctx, `
		INSERT INTO case_posts (post_id, case_id, role, score, merged_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (post_id) DO NOTHING`,
		p.PostID, p.CaseID, p.Role, p.Score, p.MergedAt)
	if err != nil {
		return false, fmt.Errorf("add post %q to case %d: %w", p.PostID, p.CaseID, err)
	}
	return n == 1, nil
}

// GetCasePost returns the post's case entry, or ErrNotFound.
func (s *Store) GetCasePost(ctx context.Context, q Querier, postID string) (CasePost, error) {
	var p CasePost
	err := s.querier(q).QueryRow(ctx, `
		SELECT post_id, case_id, role, score, merged_at, unmerged_from, unmerged_at
		FROM case_posts
		WHERE post_id = $1`, postID).Scan(&p.PostID, &p.CaseID, &p.Role, &p.Score, &p.MergedAt, &p.UnmergedFrom, &p.UnmergedAt)
	if err != nil {
		return CasePost{}, fmt.Errorf("get case entry of post %q: %w", postID, err)
	}
	return p, nil
}

// CasePosts returns the entries of a case, first merged first.
func (s *Store) CasePosts(ctx context.Context, q Querier, caseID int64) ([]CasePost, error) {
	rows, err := s.querier(q).Query(ctx, `
		SELECT post_id, case_id, role, score, merged_at, unmerged_from, unmerged_at
		FROM case_posts
		WHERE case_id = $1
		ORDER BY merged_at, post_id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("posts of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []CasePost
	for rows.Next() {
		var p CasePost
		if err := rows.Scan(&p.PostID, &p.CaseID, &p.Role, &p.Score, &p.MergedAt, &p.UnmergedFrom, &p.UnmergedAt); err != nil {
			return nil, fmt.Errorf("posts of case %d: %w", caseID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("posts of case %d: %w", caseID, err)
	}
	return out, nil
}

// MoveCasePost moves a repeat into another case (undoing a merge): it becomes
// that case's origin. moved is false when the post is not a repeat in case
// from (it was moved already, or never merged).
func (s *Store) MoveCasePost(ctx context.Context, q Querier, postID string, from, to int64, at time.Time) (moved bool, err error) {
	n, err := s.querier(q).Exec(ctx, `
		UPDATE case_posts
		SET case_id = $3, role = 'origin', unmerged_from = $2, unmerged_at = $4
		WHERE post_id = $1 AND case_id = $2 AND role = 'repeat'`, postID, from, to, at)
	if err != nil {
		return false, fmt.Errorf("move post %q from case %d to %d: %w", postID, from, to, err)
	}
	return n == 1, nil
}

// SetCaseStatus sets a case's status; resolved_at is set when it becomes
// resolved and cleared when it opens again. Only an open case stays in the
// repeat index (case_lsh).
func (s *Store) SetCaseStatus(ctx context.Context, q Querier, id int64, status model.CaseStatus, at time.Time) error {
	var resolvedAt *time.Time
	if status == model.CaseResolved {
		resolvedAt = &at
	}
	n, err := s.querier(q).Exec(ctx, `
		UPDATE cases
		SET status = $2, updated_at = $3, resolved_at = $4
		WHERE id = $1`, id, string(status), at, resolvedAt)
	if err != nil {
		return fmt.Errorf("set status of case %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("set status of case %d: %w", id, ErrNotFound)
	}
	return s.reindexCase(ctx, q, id)
}

// TouchCase sets a case's updated_at.
func (s *Store) TouchCase(ctx context.Context, q Querier, id int64, at time.Time) error {
	if _, err := s.querier(q).Exec(ctx, `UPDATE cases SET updated_at = $2 WHERE id = $1`, id, at); err != nil {
		return fmt.Errorf("touch case %d: %w", id, err)
	}
	return nil
}

const caseColumns = `id, case_no, status, districts, category, priority, lead, summary,
		       first_post_id, rule_set_version, created_at, updated_at, resolved_at`

func scanCase(r scanner) (model.Case, *time.Time, error) {
	var (
		c                       model.Case
		status, priority, dists string
		resolvedAt              *time.Time
	)
	if err := r.Scan(&c.ID, &c.No, &status, &dists, &c.Category, &priority, &c.Lead, &c.Summary,
		&c.FirstPostID, &c.RuleSetVersion, &c.CreatedAt, &c.UpdatedAt, &resolvedAt); err != nil {
		return model.Case{}, nil, err
	}
	c.Status, c.Priority = model.CaseStatus(status), model.Priority(priority)
	if err := json.Unmarshal([]byte(dists), &c.Districts); err != nil {
		return model.Case{}, nil, fmt.Errorf("case %d districts: %w", c.ID, err)
	}
	if len(c.Districts) == 0 {
		c.Districts = nil
	}
	return c, resolvedAt, nil
}

// GetCase returns the case with its post IDs, or ErrNotFound.
func (s *Store) GetCase(ctx context.Context, q Querier, id int64) (model.Case, error) {
	return s.getCase(ctx, q, "id = $1", id)
}

// GetCaseByNo returns the case with the number no, or ErrNotFound.
func (s *Store) GetCaseByNo(ctx context.Context, q Querier, no string) (model.Case, error) {
	return s.getCase(ctx, q, "case_no = $1", no)
}

func (s *Store) getCase(ctx context.Context, q Querier, where string, arg any) (model.Case, error) {
	q = s.querier(q)
	c, _, err := scanCase(q.QueryRow(ctx, `
		SELECT `+caseColumns+`
		FROM cases
		WHERE `+where, arg))
	if err != nil {
		return model.Case{}, fmt.Errorf("get case %v: %w", arg, err)
	}
	posts, err := s.CasePosts(ctx, q, c.ID)
	if err != nil {
		return model.Case{}, err
	}
	for _, p := range posts {
		c.PostIDs = append(c.PostIDs, p.PostID)
	}
	return c, nil
}

// CaseFilter selects cases; zero fields do not filter.
type CaseFilter struct {
	Status     model.CaseStatus
	District   string // district code
	Department string // cases with an assignment of this department
	AfterID    int64  // cases with a larger ID (paging)
	Limit      int    // default 100, at most 1000
}

// ListCases returns matching cases in ID order, each with its post IDs.
func (s *Store) ListCases(ctx context.Context, f CaseFilter) ([]model.Case, error) {
	var w sqlWhere
	if f.Status != "" {
		w.add("status = $?", string(f.Status))
	}
	if f.District != "" {
		w.add("district = $?", f.District)
	}
	if f.Department != "" {
		w.add("id IN (SELECT case_id FROM assignments WHERE department = $?)", f.Department)
	}
	if f.AfterID > 0 {
		w.add("id > $?", f.AfterID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	sql := `
		SELECT ` + caseColumns + `
		FROM cases` + w.clause() + `
		ORDER BY id
		LIMIT ` + w.arg(limit)
	rows, err := s.DB.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	out, err := collectRows(rows, func(r scanner) (model.Case, error) {
		c, _, err := scanCase(r)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	index := make(map[int64]int, len(out))
	for i, c := range out {
		index[c.ID] = i
	}
	if len(out) == 0 {
		return out, nil
	}
	// One query for the posts of the whole page.
	prows, err := s.DB.Query(ctx, `
		SELECT post_id, case_id
		FROM case_posts
		WHERE case_id >= $1 AND case_id <= $2
		ORDER BY merged_at, post_id`, out[0].ID, out[len(out)-1].ID)
	if err != nil {
		return nil, fmt.Errorf("list cases: posts: %w", err)
	}
	defer prows.Close()
	for prows.Next() {
		var pid string
		var cid int64
		if err := prows.Scan(&pid, &cid); err != nil {
			return nil, fmt.Errorf("list cases: posts: %w", err)
		}
		if i, ok := index[cid]; ok {
			out[i].PostIDs = append(out[i].PostIDs, pid)
		}
	}
	if err := prows.Err(); err != nil {
		return nil, fmt.Errorf("list cases: posts: %w", err)
	}
	return out, nil
}

// sqlWhere builds a WHERE clause with numbered placeholders; conditions use
// "$?" for their one argument.
type sqlWhere struct {
	conds []string
	args  []any
}

func (w *sqlWhere) add(cond string, arg any) {
	w.conds = append(w.conds, strings.ReplaceAll(cond, "$?", w.arg(arg)))
}

// arg appends an argument and returns its placeholder.
func (w *sqlWhere) arg(a any) string {
	w.args = append(w.args, a)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *sqlWhere) clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "\n\t\tWHERE " + strings.Join(w.conds, " AND ")
}

// SetCaseLead records a new lead department of a case (after a transfer of
// the lead assignment).
func (s *Store) SetCaseLead(ctx context.Context, q Querier, id int64, lead string, at time.Time) error {
	if _, err := s.querier(q).Exec(ctx, `UPDATE cases SET lead = $2, updated_at = $3 WHERE id = $1`, id, lead, at); err != nil {
		return fmt.Errorf("set lead of case %d: %w", id, err)
	}
	return nil
}
