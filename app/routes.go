package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/dispatch"
)

// Role is who may call a route. Each role includes the ones below it: the
// office may call every department route (on every case) and an
// administrator every office route.
type Role int

// Roles, from the least to the most trusted.
const (
	RolePublic     Role = iota // anyone, no credential
	RoleDepartment             // a department, on its own cases only
	RoleOffice                 // the city office: all cases, triage, transfers, reports
	RoleAdmin                  // an administrator: also reload, dead letters, metrics, readiness details
)

func (r Role) String() string {
	switch r {
	case RolePublic:
		return "public"
	case RoleDepartment:
		return "department"
	case RoleOffice:
		return "office"
	case RoleAdmin:
		return "admin"
	}
	return "unknown"
}

// Route is one row of the route table: a method, a ServeMux path pattern
// and the least role that may call it.
type Route struct {
	Method, Pattern string
	Role            Role
	handler         http.Handler
}

// Routes is the HTTP route table of this process: every route it serves,
// with who may call it. A route that is not in it is not served.
func (a *App) Routes() []Route {
	out := make([]Route, len(a.routes))
	copy(out, a.routes)
	return out
}

// buildRoutes is the route table. The department API's routes come from
// the dispatcher, each marked for departments or for the office.
func (a *App) buildRoutes(reg *prometheus.Registry) []Route {
	metricsRole := RoleAdmin
	if a.cfg.HTTP.PublicMetrics {
		metricsRole = RolePublic
	}
	rs := []Route{
		{"GET", "/healthz", RolePublic, http.HandlerFunc(healthz)},
		{"GET", "/readyz", RolePublic, http.HandlerFunc(a.readyz)},
		{"GET", "/metrics", metricsRole, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})},
		{"POST", "/-/reload", RoleAdmin, http.HandlerFunc(a.reloadHTTP)},
		{"GET", "/rules", RoleOffice, http.HandlerFunc(a.getRules)},
		{"GET", "/cases", RoleOffice, http.HandlerFunc(a.listCases)},
		{"GET", "/deadletters", RoleAdmin, http.HandlerFunc(a.listDeadLetters)},
	}
	// The public case page and the read-only Open311 endpoint.
	for _, pr := range a.publicPages().Routes() {
		rs = append(rs, Route{pr.Method, pr.Path, RolePublic, pr.Handler})
	}
	if a.disp != nil {
		// The web console signs in with the same tokens and keeps its own
		// session; its pages check the role of who signed in.
		rs = append(rs, Route{"", "/ui/", RolePublic, a.console()})
		for _, e := range a.disp.Endpoints() {
			role := RoleDepartment
			if e.Office {
				role = RoleOffice
			}
			rs = append(rs, Route{e.Method, e.Pattern, role, e.Handler})
		}
	}
	return rs
}

// handler is the app's HTTP surface: the route table behind the access
// check, every answer with a request ID.
func (a *App) handler(reg *prometheus.Registry) http.Handler {
	a.routes = a.buildRoutes(reg)
	mux := http.NewServeMux()
	for _, rt := range a.routes {
		pattern := rt.Pattern
		if rt.Method != "" {
			pattern = rt.Method + " " + rt.Pattern
		}
		mux.Handle(pattern, a.guard(rt))
	}
	return withRequestID(mux)
}

// principal is an authenticated caller.
type principal struct {
	name string // department ID or credential name: the actor in the audit trail
	role Role
}

type principalKey struct{}

func principalFrom(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p, ok
}

// credentials are the configured bearer tokens, as SHA-256 digests only.
type credentials struct {
	digests [][sha256.Size]byte
	who     []principal
}

// newCredentials hashes the configured tokens: the departments', the
// office's and the administrators'. A department with supervisor: true
// (deprecated) is an office credential named by its ID.
func newCredentials(cfg config.Config) *credentials {
	c := &credentials{}
	add := func(tok config.Secret, p principal) {
		if tok == "" {
			return
		}
		c.digests = append(c.digests, sha256.Sum256([]byte(tok.Reveal())))
		c.who = append(c.who, p)
	}
	for _, d := range cfg.Dispatch.Departments {
		role := RoleDepartment
		if d.Supervisor {
			role = RoleOffice
		}
		add(d.Token, principal{d.ID, role})
	}
	for _, cr := range cfg.Access.Office {
		add(cr.Token, principal{cr.Name, RoleOffice})
	}
	for _, cr := range cfg.Access.Admin {
		add(cr.Token, principal{cr.Name, RoleAdmin})
	}
	return c
}

// reloadAccess reads the configuration again and replaces the credentials
// (departments' tokens and names, office, administrators) with its own: a
// department removed from the file is refused from this reload on, here
// and, once its stored token is deleted, by every dispatcher on the
// database. The rest of the configuration takes effect at the next start.
// A configuration that does not load keeps the previous credentials.
func (a *App) reloadAccess(ctx context.Context, load func() (config.Config, error)) error {
	if load == nil {
		return nil
	}
	cfg, err := load()
	if err == nil {
		if problems := cfg.ReadTokenFiles(); len(problems) > 0 {
			err = &config.Error{Problems: problems}
		}
	}
	if err != nil {
		a.logger.Error("configuration not reloaded, previous credentials kept", "error", err)
		return err
	}
	a.creds.Store(newCredentials(cfg))
	if a.disp != nil {
		if err := a.disp.SetDepartments(ctx, departmentAuths(cfg)); err != nil {
			a.logger.Error("credentials reloaded, but the stored department tokens could not be updated", "error", err)
			return err
		}
	}
	a.logger.Info("credentials reloaded", "departments", len(cfg.Dispatch.Departments),
		"office", len(cfg.Access.Office), "admin", len(cfg.Access.Admin))
	return nil
}

// authenticate finds the caller of r by its bearer token. Every digest is
// compared, in constant time, so the answer's timing says nothing about
// which one matched.
func (c *credentials) authenticate(r *http.Request) (principal, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return principal{}, false
	}
	return c.lookup(tok)
}

// configured says whether a console session's actor still holds a
// configured credential: a department by its ID, the office (office and
// administrators) by its credential's name.
func (c *credentials) configured(actor string, office bool) bool {
	for _, p := range c.who {
		if p.name == actor && (p.role >= RoleOffice) == office {
			return true
		}
	}
	return false
}

// admin says whether a console session's office actor is an
// administrator (who alone may reload the rules, as on POST /-/reload).
func (c *credentials) admin(actor string) bool {
	for _, p := range c.who {
		if p.name == actor && p.role == RoleAdmin {
			return true
		}
	}
	return false
}

// lookup finds the holder of a token.
func (c *credentials) lookup(tok string) (principal, bool) {
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return principal{}, false
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range c.digests {
		if subtle.ConstantTimeCompare(sum[:], c.digests[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return principal{}, false
	}
	return c.who[found], true
}

// guard authenticates the caller once and checks its role against the
// route's: 401 without a known credential, 403 with too small a role. The
// department API learns the caller from the context.
func (a *App) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.creds.Load().authenticate(r)
		if rt.Role == RolePublic {
			if ok {
				r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
			}
			rt.handler.ServeHTTP(w, r)
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mashangban"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or unknown bearer token"})
			return
		}
		if p.role < rt.Role {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "this needs the " + rt.Role.String() + " role"})
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		ctx = dispatch.WithActor(ctx, dispatch.Actor{ID: p.name, Supervisor: p.role >= RoleOffice})
		rt.handler.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withRequestID gives every answer an X-Request-ID: the client's, if it
// sent a plausible one, else a new one. A 500 names it; the log line with
// the cause carries it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r)
	})
}

// validRequestID accepts 1 to 64 letters, digits, '-', '_' and '.', so that
// a client's ID cannot forge log lines or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// internalError answers 500 with the request ID and logs the cause with it.
func (a *App) internalError(w http.ResponseWriter, r *http.Request, msg string, err error) {
	id := w.Header().Get("X-Request-ID")
	a.logger.ErrorContext(r.Context(), msg, "request_id", id, "method", r.Method, "path", r.URL.Path, "error", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": dispatch.InternalErrorText, "request_id": id})
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// newRequestID is 20 random lowercase letters (94 bits). Letters only, so
// that the log's masking of phone and ID numbers never touches it.
func newRequestID() string {
	var b [20]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b[:])
}
