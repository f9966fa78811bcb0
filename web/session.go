package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/store"
)

// cookieName is the session cookie; its value is a random 32-byte token of
// which the store keeps only the SHA-256.
const cookieName = "msb_session"

// user is who is signed in.
type user struct {
	Actor  dispatch.Actor
	Name   string
	Office bool
	hash   string
	csrf   string
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashHex(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func (s *server) signInPage(w http.ResponseWriter, r *http.Request) {
	if u, err := s.session(r); err == nil {
		http.Redirect(w, r, home(u), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "signin", view{Title: "登录", Data: safeNext(r.URL.Query().Get("next"))})
}

// safeNext is where to go after signing in: a console page, never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

// allow takes one sign-in attempt from the client's address.
func (s *server) allow(r *http.Request) bool {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Forget addresses idle long enough for their bucket to be full again,
	// so that the map does not grow with every address ever seen.
	if len(s.limiters) > 1000 {
		for k, e := range s.limiters {
			if now.Sub(e.seen) > time.Hour {
				delete(s.limiters, k)
			}
		}
	}
	e, ok := s.limiters[ip]
	if !ok {
		e = &limiterEntry{lim: rate.NewLimiter(s.SignInRate, s.SignInBurst)}
		s.limiters[ip] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

func (s *server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if !s.allow(r) {
		w.Header().Set("Retry-After", "60")
		s.render(w, r, http.StatusTooManyRequests, "signin", view{Title: "登录", Error: "登录尝试过于频繁，请一分钟后再试。", Data: safeNext(r.PostFormValue("next"))})
		return
	}
	tok := r.PostFormValue("token")
	actor, err := s.Authenticate(r.Context(), tok)
	if errors.Is(err, dispatch.ErrUnauthorized) {
		s.Logger.InfoContext(r.Context(), "console sign-in refused", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "signin", view{Title: "登录", Error: "令牌无效，请核对后重新输入。", Data: safeNext(r.PostFormValue("next"))})
		return
	}
	if err != nil {
		s.internal(w, r, nil, err)
		return
	}
	role := store.RoleDepartment
	if actor.Supervisor {
		role = store.RoleOffice
	}
	id := newToken()
	now := s.Now()
	ws := store.WebSession{IDHash: hashHex(id), Actor: actor.ID, Role: role, CSRF: newToken(), CreatedAt: now, ExpiresAt: now.Add(s.SessionTTL)}
	if err := s.Store.CreateWebSession(r.Context(), ws); err != nil {
		s.internal(w, r, nil, err)
		return
	}
	// Expired sessions of anyone are cleared at sign-in; nothing else
	// needs them gone sooner, as an expired row is never accepted.
	if _, err := s.Store.DeleteExpiredWebSessions(r.Context(), now); err != nil {
		s.Logger.WarnContext(r.Context(), "clear expired console sessions", "error", err)
	}
	s.Logger.InfoContext(r.Context(), "console sign-in", "actor", actor.ID, "role", role)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: Prefix, MaxAge: int(s.SessionTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	to := safeNext(r.PostFormValue("next"))
	if to == "" {
		to = home(s.userOf(ws))
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *server) signOut(w http.ResponseWriter, r *http.Request) {
	u, err := s.session(r)
	if err == nil {
		if !s.validCSRF(r, u) {
			s.errorPage(w, r, u, http.StatusForbidden, "表单已失效，请返回页面刷新后再试。")
			return
		}
		if err := s.Store.DeleteWebSession(r.Context(), u.hash); err != nil {
			s.internal(w, r, u, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
}

var errNoSession = errors.New("no session")

// session returns the signed-in user of the request.
func (s *server) session(r *http.Request) (*user, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, errNoSession
	}
	ws, err := s.Store.WebSessionByHash(r.Context(), hashHex(c.Value), s.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	u := s.userOf(ws)
	// A department or office credential removed from the configuration
	// ends its sessions: the session row goes, as at sign-out.
	if s.StillValid != nil && !s.StillValid(u.Actor.ID, u.Office) {
		if err := s.Store.DeleteWebSession(r.Context(), ws.IDHash); err != nil {
			return nil, err
		}
		s.Logger.InfoContext(r.Context(), "console session ended: actor no longer configured", "actor", u.Actor.ID)
		return nil, errNoSession
	}
	return u, nil
}

func (s *server) userOf(ws store.WebSession) *user {
	office := ws.Role == store.RoleOffice
	name := s.DepartmentName(ws.Actor)
	if office && name == ws.Actor {
		name = "市马上办"
	}
	return &user{Actor: dispatch.Actor{ID: ws.Actor, Supervisor: office}, Name: name, Office: office, hash: ws.IDHash, csrf: ws.CSRF}
}

// validCSRF checks the form's hidden csrf field against the session's secret.
func (s *server) validCSRF(r *http.Request, u *user) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(u.csrf)) == 1
}

// signedIn wraps a page: without a session, GETs go to the sign-in page
// and POSTs are refused; office pages refuse departments; every POST must
// carry the session's CSRF token.
func (s *server) signedIn(office bool, fn func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.session(r)
		if errors.Is(err, errNoSession) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, nil, http.StatusForbidden, "请先登录。")
			return
		}
		if err != nil {
			s.internal(w, r, nil, err)
			return
		}
		if office && !u.Office {
			s.errorPage(w, r, u, http.StatusForbidden, "此页面仅限市马上办使用。")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !s.validCSRF(r, u) {
				s.errorPage(w, r, u, http.StatusForbidden, "表单已失效，请返回页面刷新后再试。")
				return
			}
		}
		fn(w, r, u)
	}
}

func home(u *user) string {
	if u.Office {
		return Prefix + "dashboard"
	}
	return Prefix + "inbox"
}

func (s *server) home(w http.ResponseWriter, r *http.Request, u *user) {
	http.Redirect(w, r, home(u), http.StatusSeeOther)
}
