// Package web is the console of the city's 马上办 office and of each
// department's clerks: server-rendered pages (html/template, embedded
// templates and style sheet, no script) to sign in, search and work through
// an inbox, read and act on a case, route the triage queue by hand, follow
// the office's dashboard, read the weekly report, and try and reload the
// rules.
//
// It is not a second source of truth: every page reads the store and every
// action goes through the dispatcher's own methods (Claim, Reply, Resolve,
// Transfer, RequestAssist, Unmerge, RouteTriage), which check who may do
// what and audit it. It is
// not the JSON API (dispatch.API) nor the public case page for citizens.
package web

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the console is mounted.
const Prefix = "/ui/"

// ContentSecurityPolicy is sent with every answer: no script at all, styles
// and images only from the console itself (and data: images), forms post
// only to it, and no other site may frame it.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"

// Deps is what the console needs from the daemon.
type Deps struct {
	Store      *store.Store
	Dispatcher *dispatch.Dispatcher
	// Authenticate maps a department's or the office's token to who it is;
	// an unknown token is an error wrapping dispatch.ErrUnauthorized.
	Authenticate func(ctx context.Context, token string) (dispatch.Actor, error)
	// DepartmentName names a department (default: the dispatcher's names).
	DepartmentName func(id string) string
	// Districts are offered when routing by hand (default: the districts
	// the classifier suggested for the post).
	Districts func() []model.District
	Logger    *slog.Logger
	// Now is the clock (default: the dispatcher's).
	Now func() time.Time
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL time.Duration
	// SignInRate and SignInBurst limit sign-in attempts per client address
	// (default one every 10 seconds, bursts of 5).
	SignInRate  rate.Limit
	SignInBurst int

	// RuleStatus is the serving rule set for the rules page; nil when this
	// process does not classify (the page says so).
	RuleStatus func() RuleStatus
	// Explain classifies a text on trial with the serving rule set.
	Explain func(text string) (Explanation, error)
	// Reload re-reads the rule files; a failure keeps the previous rule set
	// serving. Nil: the rules page offers no reload.
	Reload func(ctx context.Context) error
	// MayReload says whether an office actor may reload the rules, as the
	// daemon's POST /-/reload allows administrators only. Nil: the office.
	MayReload func(actor string) bool
	// StillValid says whether a signed-in actor is still configured (a
	// department, or the office for office sessions); a session whose actor
	// is not is ended at its next request. Nil: sessions are not re-checked.
	StillValid func(actor string, office bool) bool
}

type server struct {
	Deps
	pages map[string]*template.Template

	mu       sync.Mutex
	limiters map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns the console, to be mounted at Prefix ("/ui/"). Store,
// Dispatcher and Authenticate are required.
func New(deps Deps) http.Handler {
	if deps.Store == nil || deps.Dispatcher == nil || deps.Authenticate == nil {
		panic("web.New: store, dispatcher and authenticate are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.DepartmentName == nil {
		deps.DepartmentName = deps.Dispatcher.DepartmentName
	}
	if deps.Now == nil {
		deps.Now = deps.Dispatcher.Now
	}
	if deps.SessionTTL <= 0 {
		deps.SessionTTL = 12 * time.Hour
	}
	if deps.SignInRate <= 0 {
		deps.SignInRate = rate.Every(10 * time.Second)
	}
	if deps.SignInBurst <= 0 {
		deps.SignInBurst = 5
	}
	s := &server{Deps: deps, limiters: map[string]*limiterEntry{}}
	// The templates are embedded: a parse error is a bug the tests catch.
	if err := s.parse(); err != nil {
		panic(err)
	}
	static, _ := fs.Sub(staticFS, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", cacheFor(http.FileServerFS(static))))
	mux.HandleFunc("GET /ui/signin", s.signInPage)
	mux.HandleFunc("POST /ui/signin", s.signIn)
	mux.HandleFunc("POST /ui/signout", s.signOut)
	mux.HandleFunc("GET /ui/{$}", s.signedIn(false, s.home))
	mux.HandleFunc("GET /ui/inbox", s.signedIn(false, s.inbox))
	mux.HandleFunc("GET /ui/cases/{no}", s.signedIn(false, s.casePage))
	mux.HandleFunc("POST /ui/assignments/{id}/{action}", s.signedIn(false, s.act))
	mux.HandleFunc("POST /ui/cases/{no}/unmerge", s.signedIn(false, s.unmerge))
	mux.HandleFunc("GET /ui/triage", s.signedIn(true, s.triage))
	mux.HandleFunc("POST /ui/triage/route", s.signedIn(true, s.routeTriage))
	mux.HandleFunc("GET /ui/dashboard", s.signedIn(true, s.dashboard))
	mux.HandleFunc("GET /ui/report", s.signedIn(false, s.report))
	mux.HandleFunc("GET /ui/report/{format}", s.signedIn(false, s.reportFile))
	mux.HandleFunc("GET /ui/rules", s.signedIn(true, s.rulesPage))
	mux.HandleFunc("POST /ui/rules/try", s.signedIn(true, s.rulesPage))
	mux.HandleFunc("POST /ui/rules/reload", s.signedIn(true, s.reload))
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, nil, http.StatusNotFound, "没有这个页面。")
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, nil, http.StatusForbidden, "拒绝来自其他网站的提交。请在本系统的页面上操作。")
	}))
	return secureHeaders(cop.Handler(mux))
}

func (s *server) parse() error {
	funcs := template.FuncMap{
		"dept":      s.DepartmentName,
		"districts": districtNames,
		"stateName": stateName,
		"roleName":  roleName,
		"channel":   channelName,
		"time":      func(t time.Time) string { return t.In(model.Shanghai).Format("2006-01-02 15:04") },
		"pct":       pct,
	}
	s.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return err
		}
		s.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title string
	Nav   string // the current section: inbox, triage, dashboard, rules, report
	User  *user
	CSRF  string
	Flash string
	Error string
	Data  any
}

func (s *server) render(w http.ResponseWriter, r *http.Request, code int, page string, v view) {
	t := s.pages[page]
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		s.Logger.ErrorContext(r.Context(), "render page", "page", page, "error", err)
		code = http.StatusInternalServerError
		b.Reset()
		b.WriteString("<!doctype html><meta charset=utf-8><title>出错了</title><p>页面出错了，请稍后再试。</p>")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write([]byte(b.String())) //nolint:errcheck // the client went away
}

// errorPage answers with a page that says what went wrong in words for the
// reader; u may be nil (not signed in).
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, u *user, code int, msg string) {
	v := view{Title: http.StatusText(code), User: u, Error: msg, Data: code}
	if u != nil {
		v.CSRF = u.csrf
	}
	s.render(w, r, code, "error", v)
}

// internal logs err and answers 500 without its text.
func (s *server) internal(w http.ResponseWriter, r *http.Request, u *user, err error) {
	s.Logger.ErrorContext(r.Context(), "console", "path", r.URL.Path, "error", err)
	s.errorPage(w, r, u, http.StatusInternalServerError, "服务器出错了，请稍后再试。")
}
