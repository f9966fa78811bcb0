package app

import (
	"net/http"

	"github.com/mashangban/mashangban/classify"
)

// rulesStatus is what GET /rules answers: the serving rule set, the
// outcome of the last reload, and the learned fallback with its version,
// when it was trained and on how many examples.
type rulesStatus struct {
	RuleSetVersion  string              `json:"rule_set_version"`
	LastReloadError string              `json:"last_reload_error,omitempty"`
	Model           *classify.ModelInfo `json:"model"`
}

func (a *App) rulesStatus() rulesStatus {
	st := rulesStatus{RuleSetVersion: a.rules.Version()}
	if err := a.rules.LastError(); err != nil {
		st.LastReloadError = err.Error()
	}
	if e := a.rules.Engine(); e != nil {
		st.Model = e.Model()
	}
	return st
}

func (a *App) getRules(w http.ResponseWriter, r *http.Request) {
	if a.rules == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "this process does not run the classify role"})
		return
	}
	writeJSON(w, http.StatusOK, a.rulesStatus())
}
