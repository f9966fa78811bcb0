// Package public serves what anyone may read about the city's cases without
// signing in: the case page /c/{case number} that the acknowledgement links
// to (HTML for a phone, and the same as JSON), and a read-only Open311
// GeoReport v2 endpoint for city dashboards and FixMyStreet-style clients.
//
// Everything here is public by construction: departments and categories by
// the rule set's names (a department it does not name is 相关部门, never
// its code), the citizen's words and the departments' answers with phone,
// ID and card numbers, e-mail addresses and @mentions masked (privacy.MaskPublic), and
// only the audit events that have a public wording (publicStep). Authors,
// who acted, internal reasons, cards, scores and the reporter's position
// are never read into a view.
//
// It is not for the department API or any write: dispatch serves those.
package public

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/privacy"
	"github.com/mashangban/mashangban/rules"
	"github.com/mashangban/mashangban/store"
)

//go:embed templates/case.html templates/case.css
var templateFS embed.FS

// Options configure a Server.
type Options struct {
	// RuleSet returns the rule set in force, for department and category
	// names; nil (or a nil result) leaves every department 相关部门.
	RuleSet func() *rules.RuleSet
	// Location is the zone times are shown in (default Asia/Shanghai).
	Location *time.Location
	// Now is the clock (default time.Now); Open311's default window is
	// the 90 days before it.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server serves the public pages. It is safe for concurrent use.
type Server struct {
	st   *store.Store
	opts Options
	log  *slog.Logger
	tmpl *template.Template
	css  template.CSS
	csp  string
}

// New makes a Server reading st.
func New(st *store.Store, opts Options) *Server {
	if opts.Location == nil {
		opts.Location = model.Shanghai
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	css, err := templateFS.ReadFile("templates/case.css")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	loc := opts.Location
	funcs := template.FuncMap{
		"join": strings.Join,
		"when": func(t time.Time) string { return t.In(loc).Format("2006年1月2日 15:04") },
	}
	tmpl := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/case.html"))
	sum := sha256.Sum256(css)
	return &Server{
		st:   st,
		opts: opts,
		log:  opts.Logger.With("component", "public"),
		tmpl: tmpl,
		css:  template.CSS(css),
		// The one inline style element is allowed by its hash; nothing
		// else loads, runs, frames the page or submits anywhere.
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	}
}

// Register adds the public routes to mux:
//
//	GET /c/{case number}        the case page (HTML; JSON for Accept: application/json)
//	GET /c/{case number}.json   the case as JSON
//	GET /open311/v2/services.json, requests.json, requests/{case number}.json  (Open311 GeoReport v2; .xml for XML)
func (s *Server) Register(mux *http.ServeMux) {
	for _, rt := range s.Routes() {
		mux.Handle(rt.Pattern(), rt.Handler)
	}
}

// Route is one public route: a method ("" for any) and a ServeMux path
// pattern.
type Route struct {
	Method, Path string
	Handler      http.Handler
}

// Pattern is the route's ServeMux pattern.
func (r Route) Pattern() string {
	if r.Method == "" {
		return r.Path
	}
	return r.Method + " " + r.Path
}

// Routes lists the public routes: the case page and the Open311 endpoint.
func (s *Server) Routes() []Route {
	return append([]Route{
		{"GET", "/c/{no}", http.HandlerFunc(s.casePage)},
		{"GET", "/c/{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.pageError(w, r, false, http.StatusNotFound, "请输入办件编号", "请在网址 /c/ 后加上办件编号。")
		})},
	}, s.open311Routes()...)
}

func (s *Server) names() names {
	if s.opts.RuleSet == nil {
		return names{}
	}
	return names{s.opts.RuleSet()}
}

// wantsJSON: a path ending in .json, or an Accept header that asks for JSON
// and not HTML (browsers always list text/html).
func wantsJSON(r *http.Request, raw string) (string, bool) {
	if no, ok := strings.CutSuffix(raw, ".json"); ok {
		return no, true
	}
	acc := r.Header.Get("Accept")
	return raw, strings.Contains(acc, "application/json") && !strings.Contains(acc, "text/html")
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	raw, asJSON := wantsJSON(r, r.PathValue("no"))
	w.Header().Set("Vary", "Accept")
	no, ok := normalizeNo(raw)
	if !ok {
		shown := shorten(privacy.MaskPublic(raw), 40)
		if reTriageNo.MatchString(strings.ToUpper(raw)) {
			s.pageError(w, r, asJSON, http.StatusNotFound, "正在分派办理部门",
				"登记号 "+shown+" 的反映正在分派办理部门，分派后会在回复中告知您办件编号，届时可凭办件编号查询进度。")
			return
		}
		s.pageError(w, r, asJSON, http.StatusBadRequest, "办件编号格式不正确",
			"“"+shown+"”不是办件编号。")
		return
	}
	v, err := s.caseView(r.Context(), no)
	if errors.Is(err, store.ErrNotFound) {
		s.pageError(w, r, asJSON, http.StatusNotFound, "未找到办件",
			"没有编号为 "+no+" 的办件。请核对编号；刚提交的反映可能需要几分钟才能查到。")
		return
	}
	if err != nil {
		id := requestID()
		s.log.ErrorContext(r.Context(), "case page", "case_no", no, "request_id", id, "error", err)
		s.pageError(w, r, asJSON, http.StatusInternalServerError, "暂时无法查询",
			"系统暂时无法查询办件，请稍后再试。（请求编号 "+id+"）")
		return
	}
	if asJSON {
		s.writeJSON(w, http.StatusOK, v, "public, max-age=60")
		return
	}
	s.render(w, r, http.StatusOK, "case", map[string]any{"Title": "办件 " + v.CaseNo, "CSS": s.css, "Case": v}, "public, max-age=60")
}

// pageError answers a case-page request that cannot show a case, in the
// form asked for. Errors are not cached: a case may appear a moment later.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, asJSON bool, code int, title, msg string) {
	if asJSON {
		s.writeJSON(w, code, map[string]string{"error": title, "message": msg}, "no-store")
		return
	}
	s.render(w, r, code, "error", map[string]any{"Title": title, "Message": msg, "CSS": s.css}, "no-store")
}

// render executes a page into memory first, so a template failure is a
// 500, not half a page behind a 200.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, data any, cache string) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		id := requestID()
		s.log.ErrorContext(r.Context(), "render page", "page", name, "request_id", id, "error", err)
		http.Error(w, "internal error, request "+id, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	s.securityHeaders(h, s.csp, cache)
	w.WriteHeader(code)
	buf.WriteTo(w) //nolint:errcheck // the client went away
}

func (s *Server) securityHeaders(h http.Header, csp, cache string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", cache)
}

func (s *Server) writeJSON(w http.ResponseWriter, code int, v any, cache string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Error("encode JSON", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	s.securityHeaders(h, "default-src 'none'; frame-ancestors 'none'", cache)
	w.WriteHeader(code)
	buf.WriteTo(w) //nolint:errcheck // the client went away
}
