package public

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// Open311 GeoReport v2, read-only, JSON only (http://wiki.open311.org/GeoReport_v2/).
//
// Services are the rule set's categories: service_code is the category id,
// service_name its name, group the name of its top-level group. A service
// request is a case: service_request_id is the case number. Public fields
// only: description is the first report's words masked, agency_responsible
// the lead department's name, address the district and the place the
// gazetteer found. lat and long are never given: the only coordinates a
// case has are the reporter's own position. media_url is not given either:
// photos may show people.
const (
	open311PageDefault = 50
	open311PageMax     = 200
	open311OffsetMax   = 10000
	open311IDsMax      = 100
	open311Window      = 90 * 24 * time.Hour
)

type open311Service struct {
	ServiceCode string `json:"service_code"`
	ServiceName string `json:"service_name"`
	Description string `json:"description"`
	Metadata    bool   `json:"metadata"`
	Type        string `json:"type"`
	Keywords    string `json:"keywords"`
	Group       string `json:"group"`
}

type open311Request struct {
	ServiceRequestID  string `json:"service_request_id"`
	Status            string `json:"status"`
	StatusNotes       string `json:"status_notes"`
	ServiceName       string `json:"service_name"`
	ServiceCode       string `json:"service_code"`
	Description       string `json:"description"`
	AgencyResponsible string `json:"agency_responsible"`
	ServiceNotice     string `json:"service_notice"`
	RequestedDatetime string `json:"requested_datetime"`
	UpdatedDatetime   string `json:"updated_datetime"`
	ExpectedDatetime  string `json:"expected_datetime,omitempty"`
	Address           string `json:"address,omitempty"`
}

type open311Error struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
}

func (s *Server) open311Routes() []Route {
	return []Route{
		{"GET", "/open311/v2/services.json", http.HandlerFunc(s.open311Services)},
		{"GET", "/open311/v2/requests.json", http.HandlerFunc(s.open311Requests)},
		{"GET", "/open311/v2/requests/{id}", http.HandlerFunc(s.open311Request)},
		{"GET", "/open311/", http.HandlerFunc(s.open311Other)},
	}
}

// open311Other answers what the endpoint does not serve in Open311's error
// format.
func (s *Server) open311Other(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.open311Fail(w, http.StatusMethodNotAllowed, "this Open311 endpoint is read-only: only GET is served")
		return
	}
	if strings.HasSuffix(r.URL.Path, ".xml") {
		s.open311Fail(w, http.StatusBadRequest, "only the JSON format is served: use .json")
		return
	}
	s.open311Fail(w, http.StatusNotFound, "no such Open311 resource: "+r.URL.Path)
}

func (s *Server) open311Fail(w http.ResponseWriter, code int, msg string) {
	s.writeJSON(w, code, []open311Error{{Code: code, Description: msg}}, "no-store")
}

func (s *Server) open311Internal(w http.ResponseWriter, r *http.Request, err error) {
	id := requestID()
	s.log.ErrorContext(r.Context(), "open311", "path", r.URL.Path, "request_id", id, "error", err)
	s.open311Fail(w, http.StatusInternalServerError, "internal error, request "+id)
}

func (s *Server) open311Services(w http.ResponseWriter, _ *http.Request) {
	n := s.names()
	out := []open311Service{}
	if n.rs != nil {
		for _, c := range n.rs.Categories {
			name, group := n.category(c.ID)
			desc := name
			if c.Lead != "" {
				desc = name + "（通常由" + n.department(c.Lead) + "办理）"
			}
			out = append(out, open311Service{ServiceCode: c.ID, ServiceName: name, Description: desc,
				Type: "realtime", Group: group})
		}
	}
	s.writeJSON(w, http.StatusOK, out, "public, max-age=300")
}

func (s *Server) open311Request(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutSuffix(r.PathValue("id"), ".json")
	if !ok {
		s.open311Fail(w, http.StatusBadRequest, "only the JSON format is served: use requests/{service_request_id}.json")
		return
	}
	no, ok := normalizeNo(raw)
	if !ok {
		s.open311Fail(w, http.StatusBadRequest, fmt.Sprintf("%q is not a service_request_id (a case number such as MSB-20261126-0042)", shorten(raw, 40)))
		return
	}
	reqs, err := s.open311List(r, store.CaseQuery{Numbers: []string{no}, Limit: 1})
	if err != nil {
		s.open311Internal(w, r, err)
		return
	}
	if len(reqs) == 0 {
		s.open311Fail(w, http.StatusNotFound, "no service request "+no)
		return
	}
	s.writeJSON(w, http.StatusOK, reqs, "public, max-age=60")
}

func (s *Server) open311Requests(w http.ResponseWriter, r *http.Request) {
	q, err := s.open311Query(r)
	if err != nil {
		s.open311Fail(w, http.StatusBadRequest, err.Error())
		return
	}
	reqs, err := s.open311List(r, q)
	if err != nil {
		s.open311Internal(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, reqs, "public, max-age=60")
}

// open311Query reads GET requests' arguments: service_request_id (comma
// separated, overrides the rest), service_code (comma separated),
// start_date and end_date (W3C date-times; without either, the last 90
// days), status (open, closed or both), and the common extensions page_size
// (1-200, default 50) and page (from 1). jurisdiction_id and unknown
// arguments are ignored, as the specification asks.
func (s *Server) open311Query(r *http.Request) (store.CaseQuery, error) {
	v := r.URL.Query()
	var q store.CaseQuery
	list := func(name string) []string {
		var out []string
		for _, x := range strings.Split(v.Get(name), ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	size := open311PageDefault
	if p := v.Get("page_size"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > open311PageMax {
			return q, fmt.Errorf("page_size must be a number from 1 to %d", open311PageMax)
		}
		size = n
	}
	q.Limit = size
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || (n-1)*size > open311OffsetMax {
			return q, fmt.Errorf("page must be a number from 1 to %d with page_size %d; narrow the dates to reach older requests", open311OffsetMax/size+1, size)
		}
		q.Offset = (n - 1) * size
	}
	if ids := list("service_request_id"); len(ids) > 0 {
		if len(ids) > open311IDsMax {
			return q, fmt.Errorf("at most %d service_request_id values at once", open311IDsMax)
		}
		for _, id := range ids {
			no, ok := normalizeNo(id)
			if !ok {
				return q, fmt.Errorf("%q is not a service_request_id (a case number such as MSB-20261126-0042)", shorten(id, 40))
			}
			q.Numbers = append(q.Numbers, no)
		}
		return q, nil
	}
	q.Categories = list("service_code")
	if len(q.Categories) > open311IDsMax {
		return q, fmt.Errorf("at most %d service_code values at once", open311IDsMax)
	}
	for _, name := range []string{"start_date", "end_date"} {
		if x := v.Get(name); x != "" {
			t, err := time.Parse(time.RFC3339, x)
			if err != nil {
				return q, fmt.Errorf("%s must be a W3C date and time with its zone, such as 2026-11-26T00:00:00+08:00", name)
			}
			if name == "start_date" {
				q.Since = t
			} else {
				q.Until = t
			}
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return q, fmt.Errorf("end_date is before start_date")
	}
	if q.Since.IsZero() {
		end := q.Until
		if end.IsZero() {
			end = s.opts.Now()
		}
		q.Since = end.Add(-open311Window)
	}
	open, closed := false, false
	for _, st := range list("status") {
		switch st {
		case StatusOpen:
			open = true
		case StatusClosed:
			closed = true
		default:
			return q, fmt.Errorf("status must be open, closed or both (comma separated), not %q", shorten(st, 20))
		}
	}
	switch {
	case open && !closed:
		q.Status = model.CaseOpen
	case closed && !open:
		q.Status = model.CaseResolved
	}
	return q, nil
}

// open311List loads the cases q selects as Open311 service requests.
func (s *Server) open311List(r *http.Request, q store.CaseQuery) ([]open311Request, error) {
	page, err := s.st.ListCasesPage(r.Context(), q)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(page.Cases))
	for i, c := range page.Cases {
		ids[i] = c.ID
	}
	works, err := s.st.CaseWorks(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	n := s.names()
	out := make([]open311Request, 0, len(page.Cases))
	for _, c := range page.Cases {
		v := s.summaryOf(c, works[c.ID], n)
		req := open311Request{
			ServiceRequestID:  v.CaseNo,
			Status:            v.Status,
			StatusNotes:       v.StatusText,
			ServiceName:       v.Category,
			ServiceCode:       c.Category,
			Description:       v.Summary,
			AgencyResponsible: v.Lead,
			RequestedDatetime: v.ReceivedAt.Format(time.RFC3339),
			UpdatedDatetime:   v.UpdatedAt.Format(time.RFC3339),
			Address:           strings.TrimSpace(strings.Join(v.Districts, "、") + " " + v.Place),
		}
		if v.CloseBy != nil {
			req.ExpectedDatetime = v.CloseBy.Format(time.RFC3339)
		}
		out = append(out, req)
	}
	return out, nil
}

// requestID names a failed request in the answer and in the log.
func requestID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
