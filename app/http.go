package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mashangban/mashangban/model"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// check is one readiness condition.
type check struct {
	name string
	fn   func(ctx context.Context) error
}

// handler is the app's HTTP surface: health, readiness, metrics, the rule
// reload endpoint, a local read-only case list, and the department API.
func (a *App) handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("POST /-/reload", a.reloadHTTP)
	mux.HandleFunc("GET /rules", a.getRules)
	mux.HandleFunc("GET /cases", a.listCases)
	mux.HandleFunc("GET /deadletters", a.listDeadLetters)
	if a.api != nil {
		mux.Handle("/api/", a.api)
	}
	mux.Handle("/ui/", a.console())
	return mux
}

func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status := map[string]string{}
	ok := true
	for _, c := range a.checks {
		if err := c.fn(ctx); err != nil {
			status[c.name] = err.Error()
			ok = false
		} else {
			status[c.name] = "ok"
		}
	}
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, status)
}

func (a *App) reloadHTTP(w http.ResponseWriter, r *http.Request) {
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

// listCases is a local, read-only view of the cases (newest first). The
// department API under /api/ is the authenticated one.
func (a *App) listCases(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a number from 1 to 1000"})
			return
		}
		limit = n
	}
	cases, err := a.cases(r.Context(), limit)
	if err != nil {
		a.logger.Error("list cases", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read cases"})
		return
	}
	if cases == nil {
		cases = []model.Case{} // an empty list, not null
	}
	writeJSON(w, http.StatusOK, cases)
}

// listDeadLetters is a local, read-only view of what could not be turned
// into a post, a decision or a case, with the reason and the raw body.
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
		a.logger.Error("list dead letters", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read dead letters"})
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
