package public

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// Open311 GeoReport v2, read-only, in JSON and XML (http://wiki.open311.org/GeoReport_v2/):
// the format is the resource's extension, as the specification has it.
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
	ServiceCode string `json:"service_code" xml:"service_code"`
	ServiceName string `json:"service_name" xml:"service_name"`
	Description string `json:"description" xml:"description"`
	Metadata    bool   `json:"metadata" xml:"metadata"`
	Type        string `json:"type" xml:"type"`
	Keywords    string `json:"keywords" xml:"keywords"`
	Group       string `json:"group" xml:"group"`
}

type open311Request struct {
	ServiceRequestID  string `json:"service_request_id" xml:"service_request_id"`
	Status            string `json:"status" xml:"status"`
	StatusNotes       string `json:"status_notes" xml:"status_notes"`
	ServiceName       string `json:"service_name" xml:"service_name"`
	ServiceCode       string `json:"service_code" xml:"service_code"`
	Description       string `json:"description" xml:"description"`
	AgencyResponsible string `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice     string `json:"service_notice" xml:"service_notice"`
	RequestedDatetime string `json:"requested_datetime" xml:"requested_datetime"`
	UpdatedDatetime   string `json:"updated_datetime" xml:"updated_datetime"`
	ExpectedDatetime  string `json:"expected_datetime,omitempty" xml:"expected_datetime,omitempty"`
	Address           string `json:"address,omitempty" xml:"address,omitempty"`
}

type open311Error struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

// open311Format is the format a resource's name asks for: "json", "xml",
// or "" for neither.
func open311Format(name string) (base, format string) {
	for _, f := range []string{"json", "xml"} {
		if b, ok := strings.CutSuffix(name, "."+f); ok {
			return b, f
		}
	}
	return name, ""
}

func (s *Server) open311Routes() []Route {
	var rs []Route
	for _, f := range []string{"json", "xml"} {
		rs = append(rs,
			Route{"GET", "/open311/v2/services." + f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.open311Services(w, r, f) })},
			Route{"GET", "/open311/v2/requests." + f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.open311Requests(w, r, f) })})
	}
	return append(rs,
		Route{"GET", "/open311/v2/requests/{id}", http.HandlerFunc(s.open311Request)},
		Route{"GET", "/open311/", http.HandlerFunc(s.open311Other)})
}

// open311Other answers what the endpoint does not serve, in Open311's
// error format.
func (s *Server) open311Other(w http.ResponseWriter, r *http.Request) {
	_, format := open311Format(r.URL.Path)
	s.open311Fail(w, format, http.StatusNotFound, "no such Open311 resource: "+r.URL.Path+" (services.json, requests.json, requests/{service_request_id}.json; or .xml)")
}

// open311Fail answers an error in Open311's format: a list of errors with
// a code and a description, in XML when the resource asked for XML.
func (s *Server) open311Fail(w http.ResponseWriter, format string, code int, msg string) {
	s.open311Write(w, format, code, []open311Error{{Code: code, Description: msg}}, "no-store")
}

func (s *Server) open311Internal(w http.ResponseWriter, r *http.Request, format string, err error) {
	id := requestID()
	s.log.ErrorContext(r.Context(), "open311", "path", r.URL.Path, "request_id", id, "error", err)
	s.open311Fail(w, format, http.StatusInternalServerError, "internal error, request "+id)
}

// open311Write answers a list of services, requests or errors: JSON, or
// XML under the root element the specification names.
func (s *Server) open311Write(w http.ResponseWriter, format string, code int, v any, cache string) {
	if format != "xml" {
		s.writeJSON(w, code, v, cache)
		return
	}
	var doc any
	switch x := v.(type) {
	case []open311Service:
		doc = struct {
			XMLName xml.Name         `xml:"services"`
			Items   []open311Service `xml:"service"`
		}{Items: x}
	case []open311Request:
		doc = struct {
			XMLName xml.Name         `xml:"service_requests"`
			Items   []open311Request `xml:"request"`
		}{Items: x}
	case []open311Error:
		doc = struct {
			XMLName xml.Name       `xml:"errors"`
			Items   []open311Error `xml:"error"`
		}{Items: x}
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(doc); err != nil {
		s.log.Error("encode XML", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	buf.WriteByte('\n')
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	s.securityHeaders(h, "default-src 'none'; frame-ancestors 'none'", cache)
	w.WriteHeader(code)
	buf.WriteTo(w) //nolint:errcheck // the client went away
}

func (s *Server) open311Services(w http.ResponseWriter, _ *http.Request, format string) {
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
	s.open311Write(w, format, http.StatusOK, out, "public, max-age=300")
}

func (s *Server) open311Request(w http.ResponseWriter, r *http.Request) {
	raw, format := open311Format(r.PathValue("id"))
	if format == "" {
		s.open311Fail(w, format, http.StatusNotFound, "no such Open311 resource: use requests/{service_request_id}.json or .xml")
		return
	}
	no, ok := normalizeNo(raw)
	if !ok {
		s.open311Fail(w, format, http.StatusBadRequest, fmt.Sprintf("%q is not a service_request_id (a case number such as MSB-20261126-0042)", shorten(raw, 40)))
		return
	}
	reqs, err := s.open311List(r, store.CaseQuery{Numbers: []string{no}, Limit: 1})
	if err != nil {
		s.open311Internal(w, r, format, err)
		return
	}
	if len(reqs) == 0 {
		s.open311Fail(w, format, http.StatusNotFound, "no service request "+no)
		return
	}
	s.open311Write(w, format, http.StatusOK, reqs, "public, max-age=60")
}

func (s *Server) open311Requests(w http.ResponseWriter, r *http.Request, format string) {
	q, err := s.open311Query(r)
	if err != nil {
		s.open311Fail(w, format, http.StatusBadRequest, err.Error())
		return
	}
	reqs, err := s.open311List(r, q)
	if err != nil {
		s.open311Internal(w, r, format, err)
		return
	}
	s.open311Write(w, format, http.StatusOK, reqs, "public, max-age=60")
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
