package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
)

// CaseQuery selects a page of cases, newest first; zero fields do not
// filter. It serves the case lists (GET /cases, GET /api/cases) and the
// public Open311 listing.
type CaseQuery struct {
	Status model.CaseStatus
	// District is a district code or name; a case concerning several
	// districts (a border) matches each of them.
	District string
	// Department selects cases with an assignment of this department, in
	// any state (a department that transferred a case still finds it).
	Department string
	Categories []string  // category ids, any of them
	Numbers    []string  // case numbers, any of them
	Since      time.Time // opened at or after
	Until      time.Time // opened at or before
	// Text is a substring of the case's text (the first post's words);
	// Latin letters match regardless of case.
	Text string
	// Cursor continues a listing: the Next of the previous page.
	Cursor string
	// Offset skips that many matching cases (Open311's page parameter);
	// with a Cursor it counts from the cursor.
	Offset int
	Limit  int // default 100, at most 1000
}

// CaseRow is a listed case with what the public views also show.
type CaseRow struct {
	model.Case
	// Place is the finest place the case's first post named
	// ("compound:东方城二区"), "" when none finer than a district.
	Place string `json:"-"`
}

// CasePage is one page of a case listing. Next is the cursor of the
// following page, "" on the last one.
type CasePage struct {
	Cases []CaseRow
	Next  string
}

// ErrBadCursor is returned for a cursor this store did not hand out.
var ErrBadCursor = errors.New("bad cursor")

// A cursor is the ID of the last case of a page, versioned and encoded so
// that clients treat it as opaque.
const cursorPrefix = "c1:"

func encodeCaseCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

func decodeCaseCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, ErrBadCursor
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return 0, ErrBadCursor
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrBadCursor
	}
	return id, nil
}

// likeEscape escapes s for a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListCasesPage returns a page of the cases q selects, newest first (in the
// order they were opened, which is ID order), each with its post IDs.
//
// Paging is by keyset: the cursor holds the last ID served, so a page is an
// index range scan on the primary key however deep the listing goes, and
// cases opened while a client pages do not shift the pages it has still to
// read.
func (s *Store) ListCasesPage(ctx context.Context, q CaseQuery) (CasePage, error) {
	var w sqlWhere
	if q.Status != "" {
		w.add("status = $?", string(q.Status))
	}
	if q.District != "" {
		// districts is the JSON array of {"code","name"} objects that
		// encoding/json writes without spaces; district is the first code.
		key := `"name":"`
		if isDigits(q.District) {
			key = `"code":"`
		}
		pat := w.arg("%" + likeEscape(key+q.District+`"`) + "%")
		w.conds = append(w.conds, "(district = "+w.arg(q.District)+" OR districts LIKE "+pat+` ESCAPE '\')`)
	}
	if q.Department != "" {
		w.add("id IN (SELECT case_id FROM assignments WHERE department = $?)", q.Department)
	}
	if len(q.Categories) > 0 {
		w.conds = append(w.conds, "category IN ("+argList(&w, q.Categories)+")")
	}
	if len(q.Numbers) > 0 {
		w.conds = append(w.conds, "case_no IN ("+argList(&w, q.Numbers)+")")
	}
	if !q.Since.IsZero() {
		w.add("created_at >= $?", q.Since)
	}
	if !q.Until.IsZero() {
		w.add("created_at <= $?", q.Until)
	}
	if q.Text != "" {
		// lower() of a parameter is ambiguous on PostgreSQL (text or range);
		// the pattern is lowered here, ASCII only, as SQLite's lower() does.
		w.add(`lower(summary) LIKE $? ESCAPE '\'`, "%"+likeEscape(asciiLower(q.Text))+"%")
	}
	if q.Cursor != "" {
		after, err := decodeCaseCursor(q.Cursor)
		if err != nil {
			return CasePage{}, fmt.Errorf("list cases: %w", err)
		}
		w.add("id < $?", after)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	// One more than asked tells whether there is a next page.
	sql := `
		SELECT ` + caseColumns + `, place
		FROM cases` + w.clause() + `
		ORDER BY id DESC
		LIMIT ` + w.arg(limit+1)
	if q.Offset > 0 {
		sql += " OFFSET " + w.arg(q.Offset)
	}
	rows, err := s.DB.Query(ctx, sql, w.args...)
	if err != nil {
		return CasePage{}, fmt.Errorf("list cases: %w", err)
	}
	out, err := collectRows(rows, func(r scanner) (CaseRow, error) {
		var c CaseRow
		var err error
		c.Case, _, err = scanCase(placeScanner{r, &c.Place})
		return c, err
	})
	if err != nil {
		return CasePage{}, fmt.Errorf("list cases: %w", err)
	}
	var page CasePage
	if len(out) > limit {
		out = out[:limit]
		page.Next = encodeCaseCursor(out[len(out)-1].ID)
	}
	page.Cases = out
	if len(out) == 0 {
		page.Cases = []CaseRow{}
		return page, nil
	}
	if err := s.fillPostIDs(ctx, out); err != nil {
		return CasePage{}, err
	}
	return page, nil
}

// placeScanner appends the place column to the case columns a scanCase
// reads.
type placeScanner struct {
	r     scanner
	place *string
}

func (p placeScanner) Scan(dest ...any) error { return p.r.Scan(append(dest, p.place)...) }

// fillPostIDs sets the post IDs of the cases with one query.
func (s *Store) fillPostIDs(ctx context.Context, cases []CaseRow) error {
	index := make(map[int64]int, len(cases))
	var w sqlWhere
	ids := make([]int64, len(cases))
	for i, c := range cases {
		index[c.ID] = i
		ids[i] = c.ID
	}
	rows, err := s.DB.Query(ctx, `
		SELECT post_id, case_id
		FROM case_posts
		WHERE case_id IN (`+argList(&w, ids)+`)
		ORDER BY merged_at, post_id`, w.args...)
	if err != nil {
		return fmt.Errorf("list cases: posts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid string
		var cid int64
		if err := rows.Scan(&pid, &cid); err != nil {
			return fmt.Errorf("list cases: posts: %w", err)
		}
		if i, ok := index[cid]; ok {
			cases[i].PostIDs = append(cases[i].PostIDs, pid)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list cases: posts: %w", err)
	}
	return nil
}

// argList appends each value as an argument of w and returns their
// placeholders, comma-separated.
func argList[T any](w *sqlWhere, vals []T) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = w.arg(v)
	}
	return strings.Join(ph, ", ")
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// CaseWork is one department's share of a case as the public sees it.
type CaseWork struct {
	CaseID     int64
	Department string
	Role       model.Role
	State      model.AssignmentState
	ReplyBy    time.Time
	CloseBy    time.Time
}

// CaseWorks returns the assignments of the cases, by case ID, in the order
// they were made.
func (s *Store) CaseWorks(ctx context.Context, caseIDs []int64) (map[int64][]CaseWork, error) {
	out := map[int64][]CaseWork{}
	if len(caseIDs) == 0 {
		return out, nil
	}
	var w sqlWhere
	rows, err := s.DB.Query(ctx, `
		SELECT case_id, department, role, state, reply_by, close_by
		FROM assignments
		WHERE case_id IN (`+argList(&w, caseIDs)+`)
		ORDER BY id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("assignments of cases: %w", err)
	}
	list, err := collectRows(rows, func(r scanner) (CaseWork, error) {
		var c CaseWork
		var role, state string
		err := r.Scan(&c.CaseID, &c.Department, &role, &state, &c.ReplyBy, &c.CloseBy)
		c.Role, c.State = model.Role(role), model.AssignmentState(state)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("assignments of cases: %w", err)
	}
	for _, c := range list {
		out[c.CaseID] = append(out[c.CaseID], c)
	}
	return out, nil
}
