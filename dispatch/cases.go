package dispatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// CaseList is one page of a case listing: the cases, newest first, and the
// cursor of the next page ("" on the last page).
type CaseList struct {
	Cases []store.CaseRow `json:"cases"`
	Next  string          `json:"next,omitempty"`
}

// Case-list limits: the page size and the longest text filter.
const (
	CaseListDefault = 100
	CaseListMax     = 1000
	caseTextMax     = 100
)

// ParseCaseQuery reads the filters of a case listing from a query string
// (GET /cases, GET /api/cases):
//
//	state=open|resolved   (status= is the same)
//	department=ID         cases with an assignment of that department
//	district=CODE|NAME    cases concerning that district (borders count for each)
//	since=2026-11-26 | 2026-11-26T08:00:00+08:00   opened at or after (a date is its midnight in loc)
//	text=WORDS            the case's text contains WORDS (at most 100 characters)
//	limit=N               1 to 1000, default 100
//	cursor=NEXT           the next value of the previous page
//
// A bad value is an ErrInvalid error that names the parameter.
func ParseCaseQuery(q url.Values, loc *time.Location) (store.CaseQuery, error) {
	var f store.CaseQuery
	if loc == nil {
		loc = model.Shanghai
	}
	if q.Has("after_id") {
		return f, invalid("after_id is no longer supported: page with cursor, the next value of the previous page")
	}
	state := q.Get("state")
	if s := q.Get("status"); s != "" {
		if state != "" && state != s {
			return f, invalid("state %q and status %q disagree (they are the same filter)", state, s)
		}
		state = s
	}
	switch model.CaseStatus(state) {
	case "", model.CaseOpen, model.CaseResolved:
		f.Status = model.CaseStatus(state)
	default:
		return f, invalid("state must be open or resolved, not %q", state)
	}
	f.Department = strings.TrimSpace(q.Get("department"))
	f.District = strings.TrimSpace(q.Get("district"))
	if s := q.Get("since"); s != "" {
		t, err := parseSince(s, loc)
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	f.Text = strings.TrimSpace(q.Get("text"))
	if !utf8.ValidString(f.Text) {
		return f, invalid("text is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(f.Text); n > caseTextMax {
		return f, invalid("text is %d characters long, at most %d are allowed", n, caseTextMax)
	}
	f.Limit = CaseListDefault
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > CaseListMax {
			return f, invalid("limit must be a number from 1 to %d, not %q", CaseListMax, s)
		}
		f.Limit = n
	}
	f.Cursor = q.Get("cursor")
	return f, nil
}

func parseSince(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, invalid("since must be a date (2026-11-26) or an RFC 3339 time (2026-11-26T08:00:00+08:00), not %q", s)
}

// ListCases lists a page of cases for a query from ParseCaseQuery. A bad
// cursor is an ErrInvalid error.
func ListCases(ctx context.Context, st *store.Store, f store.CaseQuery) (CaseList, error) {
	p, err := st.ListCasesPage(ctx, f)
	if errors.Is(err, store.ErrBadCursor) {
		return CaseList{}, invalid("cursor %q is not one this server handed out: use the next value of a previous answer", f.Cursor)
	}
	if err != nil {
		return CaseList{}, err
	}
	return CaseList{Cases: p.Cases, Next: p.Next}, nil
}

// apiListCases is GET /api/cases: a department sees the cases it has or
// had an assignment in, a supervisor every case.
func (d *Dispatcher) apiListCases(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
	f, err := ParseCaseQuery(r.URL.Query(), d.opts.Location)
	if err != nil {
		return nil, err
	}
	if !a.Supervisor {
		if f.Department != "" && f.Department != a.ID {
			return nil, fmt.Errorf("%w: a department lists only its own cases", ErrForbidden)
		}
		f.Department = a.ID
	}
	return ListCases(r.Context(), d.st, f)
}
