package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
)

// check is one readiness condition.
type check struct {
	name string
	fn   func(ctx context.Context) error
}

// readyz answers 200 "ready" or 503 "not ready" to anyone; an
// administrator gets the details: each check, each stage's progress and
// each source's last outcome.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	rep := a.readiness(ctx)
	code := http.StatusOK
	if !rep.Ready {
		code = http.StatusServiceUnavailable
	}
	if p, ok := principalFrom(r.Context()); ok && p.role >= RoleAdmin {
		writeJSON(w, code, rep)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	if rep.Ready {
		w.Write([]byte("ready\n"))
	} else {
		w.Write([]byte("not ready\n"))
	}
}

func (a *App) reloadHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.HTTP.EnableLifecycle {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "lifecycle APIs are not enabled (set http.enable_lifecycle or --http.enable-lifecycle; SIGHUP reloads regardless)"})
		return
	}
	if a.rules == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "this process does not run the classify role"})
		return
	}
	if err := a.rules.Reload(r.Context()); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error(), "status": "previous rule set kept"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "version": a.rules.Version(), "rules": a.rulesStatus()})
}

// listCases is a read-only view of all cases for the office: newest first,
// with the filters and cursor paging of the department API's GET /api/cases
// (dispatch.ParseCaseQuery); a department reads its own under /api/cases.
func (a *App) listCases(w http.ResponseWriter, r *http.Request) {
	f, err := dispatch.ParseCaseQuery(r.URL.Query(), model.Shanghai)
	if err == nil {
		var page dispatch.CaseList
		if page, err = dispatch.ListCases(r.Context(), a.store, f); err == nil {
			writeJSON(w, http.StatusOK, page)
			return
		}
	}
	if errors.Is(err, dispatch.ErrInvalid) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	a.internalError(w, r, "list cases", err)
}

// listDeadLetters is a read-only view, for administrators, of what could
// not be turned into a post, a decision or a case, with the reason and the
// raw body (which may hold personal data).
func (a *App) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a number from 1 to 1000"})
			return
		}
		limit = n
	}
	dl, err := a.store.ListDeadLetters(r.Context(), limit)
	if err != nil {
		a.internalError(w, r, "list dead letters", err)
		return
	}
	type entry struct {
		ID        int64     `json:"id"`
		Stage     string    `json:"stage"`
		Source    string    `json:"source,omitempty"`
		Key       string    `json:"key,omitempty"`
		Reason    string    `json:"reason"`
		Raw       string    `json:"raw"`
		CreatedAt time.Time `json:"created_at"`
	}
	out := make([]entry, 0, len(dl))
	for _, d := range dl {
		out = append(out, entry{d.ID, d.Stage, d.Source, d.Key, d.Reason, strings.ToValidUTF8(string(d.Raw), "\uFFFD"), d.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
