// Package wechatfake is an in-process fake of the WeChat server APIs the
// mini-program source and replier use: cgi-bin/token, cgi-bin/stable_token,
// tcb/databasequery, tcb/databaseupdate and
// cgi-bin/message/subscribe/send, following docs/external-apis.md §3 to the
// field: HTTP 200 with errcode/errmsg (and a
// " rid: …" suffix) for every error, pager keys capitalised, data elements
// serialised as JSON strings with $date values, subscribe values checked
// against their keyword type, one-shot authorisations.
//
// It holds one collection in memory and can be told to misbehave: quota
// errors in bursts, 5xx answers, truncated or non-JSON bodies, tokens that
// expire or are revoked mid-run, pages that repeat or come back reordered,
// records deleted between pages, and citizens who refuse messages (43101).
//
// It is for tests and for `mashangban run --demo` (Demo); it is not a
// database: the statement language is the subset the daemon writes.
package wechatfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Options configure a Server. Zero values take the defaults shown.
type Options struct {
	AppID      string   // "wx0123456789abcdef"
	Secret     string   // "APPSECRET"
	Env        string   // "prod-1a2b3c"
	Collection string   // "submissions"
	Templates  []string // accepted template IDs; empty accepts any non-empty one
	// Pages, when set, are the page paths of the released app; another page
	// in a subscribe message is refused with 41030.
	Pages []string
	// RequireGrant makes subscribe/send honour one-shot authorisations
	// (Grant); without it every citizen may receive any number of messages
	// unless refused (Refuse).
	RequireGrant bool
	// MinuteQuota and DailyQuota, when set, limit the calls to each API
	// path per clock minute (45011 beyond it) and per Beijing day (45009);
	// refused calls count too.
	MinuteQuota int
	DailyQuota  int
	TokenTTL    time.Duration // 7200s
	MaxLimit    int           // largest databasequery limit honoured: 100
	Now         func() time.Time
}

// Fault is one scripted misbehaviour, consumed by one request.
type Fault struct {
	Errcode int    // answer with this errcode (HTTP 200)
	Errmsg  string // its message; a typical one when empty
	Status  int    // answer with this HTTP status and a gateway page
	// Truncate cuts the real answer in half; NonJSON answers an HTML page
	// with status 200.
	Truncate bool
	NonJSON  bool
	// Huge answers status 200 with a JSON body of HugeBytes, larger than
	// any client should read.
	Huge bool
}

// HugeBytes is the size of a Huge fault's body: 32 MiB.
const HugeBytes = 32 << 20

// writeHuge streams a JSON object of HugeBytes; it stops early when the
// client hangs up.
func writeHuge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	if _, err := io.WriteString(w, `{"errcode":0,"pad":"`); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for n := 0; n < HugeBytes; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
	_, _ = io.WriteString(w, `"}`)
}

// Errcode returns n faults answering code.
func Errcode(code, n int) []Fault { return slices.Repeat([]Fault{{Errcode: code}}, n) }

// Send is one accepted subscribe message.
type Send struct {
	ToUser     string                       `json:"touser"`
	TemplateID string                       `json:"template_id"`
	Page       string                       `json:"page"`
	State      string                       `json:"miniprogram_state"`
	Lang       string                       `json:"lang"`
	Data       map[string]map[string]string `json:"data"`
}

type quotaWindow struct {
	start time.Time
	n     int
}

// overQuota counts a call against a window of length d (truncated in zone
// loc) and reports whether it exceeds limit.
func overQuota(w map[string]quotaWindow, path string, now time.Time, d time.Duration, loc *time.Location, limit int) bool {
	if limit <= 0 {
		return false
	}
	t := now.In(loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, loc)
	if d >= 24*time.Hour {
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	}
	cur := w[path]
	if !cur.start.Equal(start) {
		cur = quotaWindow{start: start}
	}
	cur.n++
	w[path] = cur
	return cur.n > limit
}

var beijing = time.FixedZone("CST", 8*3600)

type tokenState struct {
	expires time.Time
	revoked bool
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	opt Options

	mu        sync.Mutex
	tokens    map[string]*tokenState
	current   string // the stable token
	lastForce time.Time
	forces    int
	seq       int
	records   []map[string]any
	faults    map[string][]Fault
	refused   map[string]bool
	grants    map[string]int // openid + "\x00" + template
	sends     []Send
	queries   []string
	updates   []string
	calls     map[string]int
	minute    map[string]quotaWindow
	day       map[string]quotaWindow
	repeat    bool
	shuffle   bool
	lastPage  []map[string]any
	onQuery   func(n int)
	rng       *rand.Rand
}

// New starts a fake server; Close stops it.
func New(opt Options) *Server {
	if opt.AppID == "" {
		opt.AppID = "wx0123456789abcdef"
	}
	if opt.Secret == "" {
		opt.Secret = "APPSECRET"
	}
	if opt.Env == "" {
		opt.Env = "prod-1a2b3c"
	}
	if opt.Collection == "" {
		opt.Collection = "submissions"
	}
	if opt.TokenTTL <= 0 {
		opt.TokenTTL = 7200 * time.Second
	}
	if opt.MaxLimit <= 0 {
		opt.MaxLimit = 100
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Server{
		opt: opt, tokens: map[string]*tokenState{}, faults: map[string][]Fault{},
		refused: map[string]bool{}, grants: map[string]int{}, calls: map[string]int{},
		minute: map[string]quotaWindow{}, day: map[string]quotaWindow{},
		rng: rand.New(rand.NewPCG(1, 2)),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/cgi-bin/token", s.wrap("/cgi-bin/token", s.token))
	mux.HandleFunc("/cgi-bin/stable_token", s.wrap("/cgi-bin/stable_token", s.stableToken))
	mux.HandleFunc("/tcb/databasequery", s.wrap("/tcb/databasequery", s.authed(s.dbQuery)))
	mux.HandleFunc("/tcb/databaseupdate", s.wrap("/tcb/databaseupdate", s.authed(s.dbUpdate)))
	mux.HandleFunc("/cgi-bin/message/subscribe/send", s.wrap("/cgi-bin/message/subscribe/send", s.authed(s.subscribeSend)))
	s.Server = httptest.NewServer(mux)
	return s
}

// Options returns the server's effective options (app ID, secret, env …).
func (s *Server) Options() Options { return s.opt }

// Fail queues faults for the next requests to path (e.g. "/tcb/databasequery").
func (s *Server) Fail(path string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = append(s.faults[path], faults...)
}

// ExpireTokens makes every issued token expired (42001 from now on).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.Now()
	for _, t := range s.tokens {
		t.expires = now.Add(-time.Second)
	}
	s.current = ""
}

// RevokeTokens makes every issued token invalid (40001), as a token fetched
// elsewhere with force_refresh would.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
	s.current = ""
}

// RepeatPages makes each query answer start with the records of the
// previous answer again (a page that repeats).
func (s *Server) RepeatPages(on bool) { s.mu.Lock(); s.repeat = on; s.mu.Unlock() }

// ShufflePages returns each page's records in a random order.
func (s *Server) ShufflePages(on bool) { s.mu.Lock(); s.shuffle = on; s.mu.Unlock() }

// OnQuery registers a hook run after the n-th databasequery was answered
// (n counts from 1), outside the server's lock: tests delete or add records
// between pages there.
func (s *Server) OnQuery(f func(n int)) { s.mu.Lock(); s.onQuery = f; s.mu.Unlock() }

// Refuse makes subscribe messages to openid fail with 43101.
func (s *Server) Refuse(openid string) { s.mu.Lock(); s.refused[openid] = true; s.mu.Unlock() }

// Grant records n one-shot authorisations of template by openid.
func (s *Server) Grant(openid, template string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grants[openid+"\x00"+template] += n
}

// Sends returns the accepted subscribe messages.
func (s *Server) Sends() []Send { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.sends) }

// Queries returns every databasequery statement received.
func (s *Server) Queries() []string { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.queries) }

// Updates returns every databaseupdate statement received.
func (s *Server) Updates() []string { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.updates) }

// Calls returns how many requests path received (faults included).
func (s *Server) Calls(path string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls[path] }

// Add inserts records. Values may be Go values (time.Time is stored as a
// date) or an extended-JSON object {"$date": ms}; _id is set when missing.
func (s *Server) Add(recs ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		r = normalize(r).(map[string]any)
		if _, ok := r["_id"].(string); !ok {
			s.seq++
			r["_id"] = fmt.Sprintf("%032x", s.rng.Uint64()^uint64(s.seq))
		}
		s.records = append(s.records, r)
	}
}

// AddJSON inserts records given as (extended) JSON objects.
func (s *Server) AddJSON(docs ...string) error {
	var recs []map[string]any
	for _, d := range docs {
		var m map[string]any
		if err := json.Unmarshal([]byte(d), &m); err != nil {
			return err
		}
		recs = append(recs, m)
	}
	s.Add(recs...)
	return nil
}

// Delete removes the record with id.
func (s *Server) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = slices.DeleteFunc(s.records, func(r map[string]any) bool { return r["_id"] == id })
}

// Record returns a copy of the record with id, as JSON with $date values.
func (s *Server) Record(id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records {
		if r["_id"] == id {
			var m map[string]any
			_ = json.Unmarshal(encode(r), &m)
			return m, true
		}
	}
	return nil, false
}

// Len is the number of records.
func (s *Server) Len() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.records) }

// normalize turns JSON numbers into float64, {"$date": ms} into time.Time.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if d, ok := x["$date"]; ok && len(x) == 1 {
			switch y := d.(type) {
			case float64:
				return time.UnixMilli(int64(y)).UTC()
			case string:
				if t, err := time.Parse(time.RFC3339Nano, y); err == nil {
					return t.UTC()
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case time.Time:
		return x.UTC()
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	return v
}

// encode serialises a record the way the data strings carry it.
func encode(r map[string]any) []byte {
	var conv func(v any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case time.Time:
			return map[string]any{"$date": x.UnixMilli()}
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = conv(e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = conv(e)
			}
			return out
		}
		return v
	}
	b, _ := json.Marshal(conv(r))
	return b
}

func (s *Server) rid() string {
	return fmt.Sprintf("%08x-%08x-%08x", s.rng.Uint32(), s.rng.Uint32(), s.rng.Uint32())
}

// wrap counts calls and applies queued faults.
func (s *Server) wrap(path string, h func(w http.ResponseWriter, r *http.Request) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[path]++
		var f *Fault
		if q := s.faults[path]; len(q) > 0 {
			f = &q[0]
			s.faults[path] = q[1:]
		} else if now := s.opt.Now(); overQuota(s.day, path, now, 24*time.Hour, beijing, s.opt.DailyQuota) {
			f = &Fault{Errcode: 45009}
		} else if overQuota(s.minute, path, now, time.Minute, beijing, s.opt.MinuteQuota) {
			f = &Fault{Errcode: 45011}
		}
		s.mu.Unlock()
		if f != nil && f.Status != 0 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.Status)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.Status, http.StatusText(f.Status))
			return
		}
		if f != nil && f.Huge {
			writeHuge(w)
			return
		}
		if f != nil && f.NonJSON {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html><head><title>系统繁忙</title></head><body>请稍后再试</body></html>")
			return
		}
		if f != nil && f.Errcode != 0 {
			s.writeErr(w, f.Errcode, f.Errmsg)
			return
		}
		out := h(w, r)
		if out == nil {
			return
		}
		b, _ := json.Marshal(out)
		if f != nil && f.Truncate {
			b = b[:len(b)/2]
		}
		w.Header().Set("Content-Type", "application/json; encoding=utf-8")
		w.Write(b)
	}
}

var defaultMsgs = map[int]string{
	-1:      "system error",
	40001:   "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r",
	40002:   "invalid grant_type",
	40003:   "invalid openid",
	40013:   "invalid appid",
	40014:   "invalid access_token",
	40037:   "invalid template_id",
	40125:   "invalid appsecret",
	41001:   "access_token missing",
	41002:   "appid missing",
	41030:   "invalid page",
	42001:   "access_token expired",
	43002:   "require POST method",
	43101:   "user refuse to accept the msg",
	44002:   "empty post data",
	45009:   "reach max api daily quota limit",
	45011:   "api minute-quota reach limit  mustslower  retry next minute",
	47001:   "data format error",
	-502002: "illegal db command",
	-502005: "database collection not exists",
	-501009: "resource invalid or not found",
}

func (s *Server) writeErr(w http.ResponseWriter, code int, msg string) {
	if msg == "" {
		msg = defaultMsgs[code]
	}
	s.mu.Lock()
	rid := s.rid()
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	b, _ := json.Marshal(map[string]any{"errcode": code, "errmsg": msg + " rid: " + rid})
	w.Write(b)
}

func (s *Server) errBody(code int, msg string) any {
	if msg == "" {
		msg = defaultMsgs[code]
	}
	return map[string]any{"errcode": code, "errmsg": msg + " rid: " + s.rid()}
}

func (s *Server) newTokenLocked(now time.Time) string {
	s.seq++
	tok := fmt.Sprintf("%d_%x", s.seq, s.rng.Uint64())
	s.tokens[tok] = &tokenState{expires: now.Add(s.opt.TokenTTL)}
	return tok
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) any {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case q.Get("grant_type") != "client_credential":
		return s.errBody(40002, "")
	case q.Get("appid") != s.opt.AppID:
		return s.errBody(40013, "")
	case q.Get("secret") != s.opt.Secret:
		return s.errBody(40125, "")
	}
	// A new token from cgi-bin/token leaves the previous ones usable for 5 minutes.
	now := s.opt.Now()
	for _, t := range s.tokens {
		if t.expires.After(now.Add(5 * time.Minute)) {
			t.expires = now.Add(5 * time.Minute)
		}
	}
	tok := s.newTokenLocked(now)
	return map[string]any{"access_token": tok, "expires_in": int(s.opt.TokenTTL / time.Second)}
}

func (s *Server) stableToken(w http.ResponseWriter, r *http.Request) any {
	if r.Method != http.MethodPost {
		return s.errBody(43002, "")
	}
	var body struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	raw, _ := io.ReadAll(r.Body)
	if len(raw) == 0 {
		return s.errBody(44002, "")
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		// A form-encoded body is answered as if appid were missing.
		return s.errBody(41002, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case body.GrantType != "client_credential":
		return s.errBody(40002, "")
	case body.AppID == "":
		return s.errBody(41002, "")
	case body.AppID != s.opt.AppID:
		return s.errBody(40013, "")
	case body.Secret != s.opt.Secret:
		return s.errBody(40125, "")
	}
	now := s.opt.Now()
	if body.ForceRefresh && now.Sub(s.lastForce) >= 30*time.Second && s.forces < 20 {
		s.forces++
		s.lastForce = now
		if t := s.tokens[s.current]; t != nil {
			t.revoked = true
		}
		s.current = ""
	}
	cur := s.tokens[s.current]
	// The stable token is rotated 5 minutes before it expires; the old one
	// stays valid until then.
	if cur == nil || cur.revoked || cur.expires.Sub(now) <= 5*time.Minute {
		s.current = s.newTokenLocked(now)
		cur = s.tokens[s.current]
	}
	return map[string]any{"access_token": s.current, "expires_in": int(cur.expires.Sub(now) / time.Second)}
}

// authed checks the access_token query parameter first.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, body []byte) any) func(w http.ResponseWriter, r *http.Request) any {
	return func(w http.ResponseWriter, r *http.Request) any {
		tok := r.URL.Query().Get("access_token")
		s.mu.Lock()
		t, ok := s.tokens[tok]
		now := s.opt.Now()
		var out any
		switch {
		case tok == "":
			out = s.errBody(41001, "")
		case !ok && strings.ContainsAny(tok, " \t\"'<>"):
			out = s.errBody(40014, "")
		case !ok || t.revoked:
			out = s.errBody(40001, "")
		case !now.Before(t.expires):
			out = s.errBody(42001, "")
		case r.Method != http.MethodPost:
			out = s.errBody(43002, "")
		}
		s.mu.Unlock()
		if out != nil {
			return out
		}
		body, _ := io.ReadAll(r.Body)
		if len(body) == 0 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.errBody(44002, "")
		}
		return h(w, r, body)
	}
}

type dbBody struct {
	Env   string `json:"env"`
	Query string `json:"query"`
}

func (s *Server) statement(body []byte) (*statement, any) {
	var b dbBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, s.errBody(47001, "")
	}
	if b.Env == "" || b.Query == "" {
		return nil, s.errBody(40101, "missing required parameter")
	}
	if b.Env != s.opt.Env {
		return nil, s.errBody(-501009, "")
	}
	st, err := parseStatement(b.Query, s.opt.Now())
	if err != nil {
		return nil, s.errBody(-502002, "illegal db command: "+err.Error())
	}
	if st.coll != s.opt.Collection {
		return nil, s.errBody(-502005, "")
	}
	return st, nil
}

// selectLocked returns the records a statement addresses, in its order.
func (s *Server) selectLocked(st *statement) []map[string]any {
	var sel []map[string]any
	for _, r := range s.records {
		if st.docID != nil && r["_id"] != *st.docID {
			continue
		}
		if matches(r, st.where) {
			sel = append(sel, r)
		}
	}
	slices.SortStableFunc(sel, func(a, b map[string]any) int {
		for _, o := range st.orders {
			va, vb := lookup(a, o.field), lookup(b, o.field)
			c, ok := compare(va, vb)
			if !ok {
				c = cmpOrdered(sortRank(va), sortRank(vb))
			}
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return sel
}

func (s *Server) dbQuery(w http.ResponseWriter, r *http.Request, body []byte) any {
	s.mu.Lock()
	st, errOut := s.statement(body)
	if errOut != nil {
		s.mu.Unlock()
		return errOut
	}
	var q dbBody
	_ = json.Unmarshal(body, &q)
	s.queries = append(s.queries, q.Query)
	n := len(s.queries)
	if st.op != "get" && st.op != "count" {
		s.mu.Unlock()
		return s.errBody(-502002, "illegal db command: databasequery takes get()")
	}
	sel := s.selectLocked(st)
	total := len(sel)
	if st.op == "count" {
		s.mu.Unlock()
		return map[string]any{"errcode": 0, "errmsg": "ok", "count": total}
	}
	limit := st.limit
	if limit < 0 {
		limit = 10
	}
	limit = min(limit, s.opt.MaxLimit)
	page := sel[min(st.skip, len(sel)):]
	page = page[:min(limit, len(page))]
	out := slices.Clone(page)
	if s.repeat && len(s.lastPage) > 0 {
		out = append(slices.Clone(s.lastPage), out...)
		if len(out) > limit {
			out = out[:limit]
		}
	}
	if len(page) > 0 {
		s.lastPage = page
	}
	if s.shuffle {
		s.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	data := make([]string, len(out))
	for i, rec := range out {
		rec = project(rec, st.fields)
		data[i] = string(encode(rec))
	}
	hook := s.onQuery
	s.mu.Unlock()
	if hook != nil {
		defer hook(n)
	}
	return map[string]any{
		"errcode": 0, "errmsg": "ok",
		"pager": map[string]int{"Offset": st.skip, "Limit": limit, "Total": total},
		"data":  data,
	}
}

// project keeps the fields set to true (and _id), as field() does.
func project(r map[string]any, fields map[string]any) map[string]any {
	if len(fields) == 0 {
		return r
	}
	out := map[string]any{"_id": r["_id"]}
	for k, v := range fields {
		if v == true {
			if x := lookup(r, k); x != nil {
				set(out, k, x)
			}
		}
	}
	return out
}

func (s *Server) dbUpdate(w http.ResponseWriter, r *http.Request, body []byte) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, errOut := s.statement(body)
	if errOut != nil {
		return errOut
	}
	var q dbBody
	_ = json.Unmarshal(body, &q)
	s.updates = append(s.updates, q.Query)
	if st.op != "update" {
		return s.errBody(-502002, "illegal db command: databaseupdate takes update()")
	}
	sel := s.selectLocked(st)
	modified := 0
	data := normalize(st.update).(map[string]any)
	for _, rec := range sel {
		before := string(encode(rec))
		for k, v := range data {
			set(rec, k, v)
		}
		if string(encode(rec)) != before {
			modified++
		}
	}
	return map[string]any{"errcode": 0, "errmsg": "ok", "matched": len(sel), "modified": modified, "id": ""}
}

func (s *Server) subscribeSend(w http.ResponseWriter, r *http.Request, body []byte) any {
	var raw struct {
		ToUser     string                     `json:"touser"`
		TemplateID string                     `json:"template_id"`
		Page       string                     `json:"page"`
		State      string                     `json:"miniprogram_state"`
		Lang       string                     `json:"lang"`
		Data       map[string]json.RawMessage `json:"data"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := json.Unmarshal(body, &raw); err != nil {
		return s.errBody(47001, "")
	}
	switch {
	case raw.ToUser == "":
		return s.errBody(40003, "")
	case raw.TemplateID == "" || (len(s.opt.Templates) > 0 && !slices.Contains(s.opt.Templates, raw.TemplateID)):
		return s.errBody(40037, "")
	}
	if raw.Page != "" && len(s.opt.Pages) > 0 {
		path, _, _ := strings.Cut(raw.Page, "?")
		if !slices.Contains(s.opt.Pages, path) {
			return s.errBody(41030, "")
		}
	}
	if raw.State != "" && raw.State != "developer" && raw.State != "trial" && raw.State != "formal" {
		return s.errBody(47003, "argument invalid! miniprogram_state invalid")
	}
	if len(raw.Data) == 0 {
		return s.errBody(47003, "argument invalid! data is empty")
	}
	send := Send{ToUser: raw.ToUser, TemplateID: raw.TemplateID, Page: raw.Page, State: raw.State, Lang: raw.Lang, Data: map[string]map[string]string{}}
	for _, k := range slices.Sorted(maps.Keys(raw.Data)) {
		var v struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw.Data[k], &v); err != nil || len(v.Value) == 0 || strings.HasSuffix(k, ".DATA") {
			return s.errBody(47003, fmt.Sprintf("argument invalid! data.%s.value is emtpy", k))
		}
		var str string
		if err := json.Unmarshal(v.Value, &str); err != nil {
			var num json.Number
			if err := json.Unmarshal(v.Value, &num); err != nil {
				return s.errBody(47003, fmt.Sprintf("argument invalid! data.%s.value invalid", k))
			}
			str = num.String()
		}
		if !ValidValue(k, str) {
			return s.errBody(47003, fmt.Sprintf("argument invalid! data.%s.value invalid", k))
		}
		send.Data[k] = map[string]string{"value": str}
	}
	key := raw.ToUser + "\x00" + raw.TemplateID
	if s.refused[raw.ToUser] || (s.opt.RequireGrant && s.grants[key] <= 0) {
		return s.errBody(43101, "")
	}
	if s.opt.RequireGrant {
		s.grants[key]--
	}
	s.sends = append(s.sends, send)
	return map[string]any{"errcode": 0, "errmsg": "ok"}
}

var (
	keyTypeRE   = regexp.MustCompile(`^([a-z_]+?)[0-9]+$`)
	numberRE    = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	letterRE    = regexp.MustCompile(`^[A-Za-z]+$`)
	timeRE      = regexp.MustCompile(`^((\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2})\s*)?\d{1,2}:\d{2}(:\d{2})?$`)
	dateRE      = regexp.MustCompile(`^(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2})(\s*\d{1,2}:\d{2}(:\d{2})?)?$`)
	amountRE    = regexp.MustCompile(`^[¥￥$]?[0-9]{1,10}(\.[0-9]{1,2})?元?$`)
	phoneRE     = regexp.MustCompile(`^[0-9+\-() ]{1,17}$`)
	carNumberRE = regexp.MustCompile(`^\p{Han}?[A-Za-z0-9]{1,7}\p{Han}?$`)
)

// ValidValue applies the value rules of a subscribe-message keyword type
// (reference §3.6), the type being the key without its number ("thing1").
// Lengths count Unicode code points.
func ValidValue(key, v string) bool {
	m := keyTypeRE.FindStringSubmatch(key)
	if m == nil || v == "" || !utf8.ValidString(v) {
		return false
	}
	n := utf8.RuneCountInString(v)
	switch m[1] {
	case "thing":
		return n <= 20
	case "number":
		return len(v) <= 32 && numberRE.MatchString(v)
	case "letter":
		return n <= 32 && letterRE.MatchString(v)
	case "symbol":
		if n > 5 {
			return false
		}
		for _, r := range v {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return false
			}
		}
		return true
	case "character_string":
		if n > 32 {
			return false
		}
		for _, r := range v {
			if r > unicode.MaxASCII || !unicode.IsPrint(r) {
				return false
			}
		}
		return true
	case "time":
		return timeRE.MatchString(v) || rangeOf(v, timeRE)
	case "date":
		return dateRE.MatchString(v) || rangeOf(v, dateRE)
	case "amount":
		return amountRE.MatchString(v)
	case "phone_number":
		return phoneRE.MatchString(v)
	case "car_number":
		return n <= 8 && carNumberRE.MatchString(v)
	case "name":
		for _, r := range v {
			if unicode.Is(unicode.Han, r) {
				return n <= 10
			}
		}
		return n <= 20
	case "phrase":
		if n > 5 {
			return false
		}
		for _, r := range v {
			if !unicode.Is(unicode.Han, r) {
				return false
			}
		}
		return true
	}
	return false // enum/const values are pre-approved; the fake knows none
}

func rangeOf(v string, re *regexp.Regexp) bool {
	a, b, ok := strings.Cut(v, "~")
	return ok && re.MatchString(strings.TrimSpace(a)) && re.MatchString(strings.TrimSpace(b))
}
