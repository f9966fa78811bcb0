package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// API returns the department API, to be mounted at /api/ (the routes below
// carry the /api prefix). Every request needs "Authorization: Bearer
// <token>" of a configured department or supervisor (the office). Behind
// the app's server the caller is authenticated there (WithActor) and the
// routes' roles are those of Endpoints. JSON in and out;
// errors are {"error": "..."} with 400 (bad request), 401 (no or unknown
// token), 403 (another department's), 404 (unknown ID), 409 (wrong state).
//
//	GET  /api/assignments?state=pending,claimed&due_before=RFC3339&department=&after_id=&limit=
//	GET  /api/assignments/{id}
//	POST /api/assignments/{id}/claim
//	POST /api/assignments/{id}/reply     {"text": "..."}
//	POST /api/assignments/{id}/resolve   {"text": "..."}
//	POST /api/assignments/{id}/transfer  {"to": "dept", "former_lead": "leave|assist", "reason": "..."}
//	POST /api/assignments/{id}/reopen    {"reason": "..."}
//	GET  /api/cases?state=open&department=&district=&since=&text=&limit=&cursor=  (see ParseCaseQuery)
//	GET  /api/cases/{no}                 the case, its assignments and audit events
//	POST /api/cases/{no}/unmerge         {"post_id": "...", "reason": "..."}
//	GET  /api/triage?state=waiting       (office)
//	POST /api/triage/{post_id}/route     {"lead": "...", "assist": [...], "reason": "..."} (office)
//	GET  /api/reports/weekly?week=2026-11-23&format=json|csv|md
func (d *Dispatcher) API() http.Handler {
	mux := http.NewServeMux()
	for _, e := range d.Endpoints() {
		mux.Handle(e.Method+" "+e.Pattern, e.Handler)
	}
	mux.Handle("/api/", d.endpoint("unknown", func(http.ResponseWriter, *http.Request, Actor) (any, error) {
		return nil, fmt.Errorf("no such endpoint: %w", ErrNotFound)
	}))
	return mux
}

// Endpoint is one route of the department API. Office marks the routes
// only the office (a supervisor) may call; the others are open to every
// department, each on its own cases, and to the office on all.
type Endpoint struct {
	Method, Pattern, Action string
	Office                  bool
	Handler                 http.Handler
}

type actorKey struct{}

// WithActor returns ctx carrying the caller, already authenticated by the
// server in front of the API: the endpoints then use it and do not look at
// the Authorization header themselves.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// InternalErrorText is the error of a 500 answer: it names no cause, which
// goes to the log with the request ID.
const InternalErrorText = "内部错误，请稍后再试；如仍有问题，请将请求编号告知管理员"

// endpoint wraps fn: the caller (from WithActor, else its bearer token),
// the JSON answer, the error status and the metrics.
func (d *Dispatcher) endpoint(action string, fn func(w http.ResponseWriter, r *http.Request, a Actor) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := r.Context().Value(actorKey{}).(Actor)
		var err error
		if !ok {
			a, err = d.authenticate(r)
		}
		if err == nil {
			var v any
			v, err = fn(w, r, a)
			if err == nil {
				if v != nil {
					writeJSON(w, http.StatusOK, v)
				}
				d.m.api.WithLabelValues(action, "200").Inc()
				return
			}
		}
		code := statusOf(err)
		d.m.api.WithLabelValues(action, strconv.Itoa(code)).Inc()
		switch code {
		case http.StatusInternalServerError:
			id := w.Header().Get("X-Request-ID")
			d.log.ErrorContext(r.Context(), "api", "action", action, "request_id", id, "error", err)
			writeJSON(w, code, map[string]string{"error": InternalErrorText, "request_id": id})
			return
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Bearer realm="mashangban"`)
		}
		writeJSON(w, code, map[string]string{"error": err.Error()})
	})
}

// Endpoints lists the API's routes with who may call them.
func (d *Dispatcher) Endpoints() []Endpoint {
	var out []Endpoint
	add := func(office bool, pattern, action string, fn func(w http.ResponseWriter, r *http.Request, a Actor) (any, error)) {
		method, path, _ := strings.Cut(pattern, " ")
		out = append(out, Endpoint{Method: method, Pattern: path, Action: action, Office: office, Handler: d.endpoint(action, fn)})
	}
	h := func(pattern, action string, fn func(w http.ResponseWriter, r *http.Request, a Actor) (any, error)) {
		add(false, pattern, action, fn)
	}
	office := func(pattern, action string, fn func(w http.ResponseWriter, r *http.Request, a Actor) (any, error)) {
		add(true, pattern, action, fn)
	}
	h("GET /api/assignments", "list_assignments", d.apiListAssignments)
	h("GET /api/assignments/{id}", "get_assignment", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		as, err := d.st.GetAssignment(r.Context(), nil, id)
		if err != nil {
			return nil, err
		}
		if !a.Supervisor && as.Department != a.ID {
			return nil, fmt.Errorf("%w: assignment %d belongs to another department", ErrForbidden, id)
		}
		return as, nil
	})
	h("POST /api/assignments/{id}/claim", "claim", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return d.Claim(r.Context(), a, id)
	})
	h("POST /api/assignments/{id}/reply", "reply", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		var body struct{ Text string }
		id, err := pathIDBody(r, &body)
		if err != nil {
			return nil, err
		}
		return d.Reply(r.Context(), a, id, body.Text)
	})
	h("POST /api/assignments/{id}/resolve", "resolve", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		var body struct{ Text string }
		id, err := pathIDBody(r, &body)
		if err != nil {
			return nil, err
		}
		return d.Resolve(r.Context(), a, id, body.Text)
	})
	h("POST /api/assignments/{id}/transfer", "transfer", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		var body TransferRequest
		id, err := pathIDBody(r, &body)
		if err != nil {
			return nil, err
		}
		return d.TransferWith(r.Context(), a, id, body)
	})
	h("POST /api/assignments/{id}/reopen", "reopen", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		var body struct{ Reason string }
		id, err := pathIDBody(r, &body)
		if err != nil {
			return nil, err
		}
		return d.Reopen(r.Context(), a, id, body.Reason)
	})
	h("GET /api/cases", "list_cases", d.apiListCases)
	h("GET /api/cases/{no}", "get_case", d.apiGetCase)
	h("POST /api/cases/{no}/unmerge", "unmerge", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		var body struct {
			PostID string `json:"post_id"`
			Reason string `json:"reason"`
		}
		if err := decodeBody(r, &body); err != nil {
			return nil, err
		}
		c, err := d.st.GetCaseByNo(r.Context(), nil, r.PathValue("no"))
		if err != nil {
			return nil, err
		}
		cp, err := d.st.GetCasePost(r.Context(), nil, body.PostID)
		if err != nil {
			return nil, err
		}
		if cp.CaseID != c.ID {
			return nil, fmt.Errorf("post %q is not in case %s: %w", body.PostID, c.No, ErrNotFound)
		}
		return d.Unmerge(r.Context(), a, body.PostID, body.Reason)
	})
	office("GET /api/triage", "list_triage", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		if !a.Supervisor {
			return nil, fmt.Errorf("%w: only a supervisor sees triage", ErrForbidden)
		}
		state := r.URL.Query().Get("state")
		if state == "" {
			state = store.TriageWaiting
		} else if state == "all" {
			state = ""
		}
		_, limit, err := paging("", r.URL.Query().Get("limit"))
		if err != nil {
			return nil, err
		}
		items, err := d.st.ListTriage(r.Context(), state, limit)
		if items == nil {
			items = []store.TriageItem{}
		}
		return items, err
	})
	office("POST /api/triage/{post_id}/route", "route_triage", func(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
		var body Route
		if err := decodeBody(r, &body); err != nil {
			return nil, err
		}
		return d.RouteTriage(r.Context(), a, r.PathValue("post_id"), body)
	})
	h("GET /api/reports/weekly", "weekly_report", d.apiWeeklyReport)
	return out
}

var errUnauthorized = errors.New("missing or unknown bearer token")

// authenticate maps the bearer token to a department: the configured tokens
// first, then the tokens stored in the database (hashes only in both).
func (d *Dispatcher) authenticate(r *http.Request) (Actor, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return Actor{}, errUnauthorized
	}
	h := hashToken(tok)
	ids := d.ids.Load()
	if dep, ok := ids.tokens[h]; ok {
		return Actor{ID: dep.ID, Supervisor: dep.Supervisor}, nil
	}
	dt, err := d.st.DepartmentByToken(r.Context(), h)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, errUnauthorized
	}
	if err != nil {
		return Actor{}, err
	}
	// A stored token of a department that is no longer configured is
	// refused, even before SaveTokens has removed it.
	if len(ids.tokens) > 0 && !ids.configured[dt.Department] {
		return Actor{}, errUnauthorized
	}
	return Actor{ID: dt.Department, Supervisor: dt.Role == "supervisor"}, nil
}

// SaveTokens stores the hashes of the configured tokens in the database, so
// that every dispatcher on it (and the audit) knows them, and removes the
// tokens of departments that are no longer configured: their holders are
// refused from this start on.
func (d *Dispatcher) SaveTokens(ctx context.Context) error {
	var toks []store.DepartmentToken
	for h, dep := range d.ids.Load().tokens {
		role := "department"
		if dep.Supervisor {
			role = "supervisor"
		}
		toks = append(toks, store.DepartmentToken{Department: dep.ID, TokenHash: h, Role: role})
	}
	return d.st.SaveDepartmentTokens(ctx, toks, d.now())
}

func statusOf(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrInvalid), errors.As(err, &mbe):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck // the client went away
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, invalid("bad assignment id %q", r.PathValue("id"))
	}
	return id, nil
}

func pathIDBody(r *http.Request, body any) (int64, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, err
	}
	return id, decodeBody(r, body)
}

// decodeBody reads a JSON body of at most 64 KiB; unknown fields are errors,
// an empty body is an empty object.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return invalid("bad JSON body: %v", err)
	}
	return nil
}

func paging(after, limit string) (int64, int, error) {
	var a int64
	var l int
	var err error
	if after != "" {
		if a, err = strconv.ParseInt(after, 10, 64); err != nil {
			return 0, 0, invalid("bad after_id %q", after)
		}
	}
	if limit != "" {
		if l, err = strconv.Atoi(limit); err != nil || l < 0 {
			return 0, 0, invalid("bad limit %q", limit)
		}
	}
	return a, l, nil
}

func (d *Dispatcher) apiListAssignments(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
	q := r.URL.Query()
	f := store.AssignmentFilter{Department: q.Get("department")}
	if !a.Supervisor {
		if f.Department != "" && f.Department != a.ID {
			return nil, fmt.Errorf("%w: a department lists only its own assignments", ErrForbidden)
		}
		f.Department = a.ID
	}
	if s := q.Get("state"); s != "" {
		for _, st := range strings.Split(s, ",") {
			switch model.AssignmentState(st) {
			case model.AssignmentPending, model.AssignmentClaimed, model.AssignmentReplied, model.AssignmentResolved, model.AssignmentTransferred:
				f.States = append(f.States, model.AssignmentState(st))
			default:
				return nil, invalid("unknown state %q", st)
			}
		}
	}
	if s := q.Get("due_before"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, invalid("bad due_before %q (want RFC 3339)", s)
		}
		f.DueBefore = t
	}
	if c := q.Get("case_id"); c != "" {
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return nil, invalid("bad case_id %q", c)
		}
		f.CaseID = id
	}
	var err error
	if f.AfterID, f.Limit, err = paging(q.Get("after_id"), q.Get("limit")); err != nil {
		return nil, err
	}
	as, err := d.st.ListAssignments(r.Context(), nil, f)
	if as == nil {
		as = []store.Assignment{}
	}
	return as, err
}

// caseView is a case with its assignments and audit trail.
type caseView struct {
	model.Case
	Assignments []store.Assignment `json:"assignments"`
	Events      []eventView        `json:"events"`
}

type eventView struct {
	At           time.Time       `json:"at"`
	Kind         string          `json:"kind"`
	AssignmentID *int64          `json:"assignment_id,omitempty"`
	PostID       string          `json:"post_id,omitempty"`
	Actor        string          `json:"actor"`
	Detail       json.RawMessage `json:"detail,omitempty"`
}

func (d *Dispatcher) apiGetCase(_ http.ResponseWriter, r *http.Request, a Actor) (any, error) {
	ctx := r.Context()
	c, err := d.st.GetCaseByNo(ctx, nil, r.PathValue("no"))
	if err != nil {
		return nil, err
	}
	as, err := d.st.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: c.ID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	if !a.Supervisor {
		mine := false
		for _, x := range as {
			mine = mine || x.Department == a.ID
		}
		if !mine {
			return nil, fmt.Errorf("%w: case %s has no assignment of %q", ErrForbidden, c.No, a.ID)
		}
	}
	evs, err := d.st.ListEvents(ctx, store.EventFilter{CaseID: &c.ID})
	if err != nil {
		return nil, err
	}
	v := caseView{Case: c, Assignments: as, Events: []eventView{}}
	if v.Assignments == nil {
		v.Assignments = []store.Assignment{}
	}
	for _, e := range evs {
		v.Events = append(v.Events, eventView{At: e.At, Kind: e.Kind, AssignmentID: e.AssignmentID, PostID: e.PostID, Actor: e.Actor, Detail: e.Detail})
	}
	return v, nil
}

// apiWeeklyReport serves the weekly report. ?week= takes any date (or date
// and time, see ParseWeekDate) and reports the Monday-to-Sunday week that
// contains it; without it, the last full week. ?format= is json (default),
// md, csv (UTF-8 with a byte-order mark) or html (a self-contained page);
// md and csv come as downloads named after the week's Monday. A department
// sees its own feedback line, the total and its own exposed cases; a
// supervisor sees all.
func (d *Dispatcher) apiWeeklyReport(w http.ResponseWriter, r *http.Request, a Actor) (any, error) {
	q := r.URL.Query()
	format := q.Get("format")
	switch format {
	case "", "json":
		format = "json"
	case "markdown":
		format = "md"
	case "md", "csv", "html":
	default:
		return nil, invalid("unknown format %q (want json, md, csv or html)", format)
	}
	now := d.now()
	week := LastFullWeek(now, d.opts.Location)
	if s := q.Get("week"); s != "" {
		t, err := ParseWeekDate(s, d.opts.Location)
		if err != nil {
			return nil, err
		}
		week = t
	}
	rep, err := BuildReport(r.Context(), d.st, week, now, d.opts.Location, d.departmentNames(), WithCategoryNames(d.categoryNames()))
	if err != nil {
		return nil, err
	}
	if !a.Supervisor {
		rows := []ReportRow{}
		for _, x := range rep.Rows {
			if x.Department == a.ID {
				rows = append(rows, x)
			}
		}
		exposed := []ExposureItem{}
		for _, e := range rep.Exposure {
			if e.Department == a.ID {
				exposed = append(exposed, e)
			}
		}
		rep.Rows, rep.Exposure = rows, exposed
	}
	if format == "json" {
		return rep, nil
	}
	write, ctype, disposition := rep.WriteMarkdown, "text/markdown", "attachment"
	switch format {
	case "csv":
		write, ctype = rep.WriteCSV, "text/csv"
	case "html":
		write, ctype, disposition = rep.WriteHTML, "text/html", "inline"
	}
	// Rendered in memory first, so that a failure is an error status, not
	// half a document behind a 200.
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return nil, err
	}
	h := w.Header()
	h.Set("Content-Type", ctype+"; charset=utf-8")
	h.Set("Content-Disposition", disposition+`; filename="`+ReportFileName(rep.WeekStart, format)+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if format == "html" {
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	}
	buf.WriteTo(w) //nolint:errcheck // the client went away
	return nil, nil
}

// LastFullWeek is the Monday (a date, at UTC midnight) of the last full
// Monday-to-Sunday week before now in loc.
func LastFullWeek(now time.Time, loc *time.Location) time.Time {
	l := now.In(loc)
	y, m, dd := l.Date()
	day := time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
	offset := (int(day.Weekday()) + 6) % 7 // days since Monday
	return day.AddDate(0, 0, -offset-7)
}
