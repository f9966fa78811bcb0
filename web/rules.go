package web

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
)

// RuleStatus is the serving rule set as the rules page shows it.
type RuleStatus struct {
	Version         string
	LastReloadError string // empty when the last reload succeeded
	Model           *ModelStatus
}

// ModelStatus is the learned fallback of the serving rule set.
type ModelStatus struct {
	Version   string
	TrainedAt time.Time
	Examples  int
}

// Explanation is a trial classification of a text: the decision and the
// full story of it as `mashangban rules explain` prints it.
type Explanation struct {
	Decision model.Decision
	Trace    string
}

// maxTrial bounds the text tried on the rules page.
const maxTrial = 2000

type rulesData struct {
	Status    RuleStatus
	Text      string
	Result    *Explanation
	Lead      string
	Assist    []string
	Triage    string
	CanReload bool
}

func (s *server) rulesAvailable(w http.ResponseWriter, r *http.Request, u *user) bool {
	if s.RuleStatus == nil {
		s.errorPage(w, r, u, http.StatusNotFound, "本进程不运行分类，没有规则可看。")
		return false
	}
	return true
}

func (s *server) rulesPage(w http.ResponseWriter, r *http.Request, u *user) {
	if !s.rulesAvailable(w, r, u) {
		return
	}
	d := rulesData{Status: s.RuleStatus(), CanReload: s.mayReload(u)}
	v := view{Title: "规则", Nav: "rules", User: u, CSRF: u.csrf, Data: &d}
	switch r.URL.Query().Get("ok") {
	case "reloaded":
		v.Flash = "规则已重新加载，当前版本 " + d.Status.Version + "。"
	}
	code := http.StatusOK
	// The trial text comes in a POST (a form with the CSRF token), so that
	// words pasted from a citizen's post stay out of URLs, access logs and
	// the browser's history.
	if r.Method == http.MethodPost {
		d.Text = strings.TrimSpace(r.PostFormValue("text"))
		if d.Text == "" {
			code, v.Error = http.StatusBadRequest, "请输入要试分类的文字。"
		}
	}
	if text := d.Text; text != "" {
		switch {
		case s.Explain == nil:
			v.Error = "本进程不能试分类。"
		case utf8.RuneCountInString(text) > maxTrial || !utf8.ValidString(text):
			code, v.Error = http.StatusBadRequest, "试分类的文字不能超过2000字。"
		default:
			ex, err := s.Explain(text)
			if err != nil {
				s.internal(w, r, u, err)
				return
			}
			d.Result = &ex
			if l := ex.Decision.Lead; l != nil && l.ID != "" {
				d.Lead = s.DepartmentName(l.ID)
			}
			for _, a := range ex.Decision.Assist {
				d.Assist = append(d.Assist, s.DepartmentName(a.ID))
			}
			if ex.Decision.Triage {
				d.Triage = triageReason(ex.Decision.TriageReason)
			}
		}
	}
	s.render(w, r, code, "rules", v)
}

func (s *server) mayReload(u *user) bool {
	return s.Reload != nil && u.Office && (s.MayReload == nil || s.MayReload(u.Actor.ID))
}

// reload re-reads the rule files; a broken rule set keeps the previous one
// serving and the page says why.
func (s *server) reload(w http.ResponseWriter, r *http.Request, u *user) {
	if !s.rulesAvailable(w, r, u) {
		return
	}
	if !s.mayReload(u) {
		s.errorPage(w, r, u, http.StatusForbidden, "只有系统管理员可以重新加载规则。")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	if err := s.Reload(ctx); err != nil {
		s.Logger.WarnContext(r.Context(), "console reload", "actor", u.Actor.ID, "error", err)
		d := rulesData{Status: s.RuleStatus(), CanReload: true}
		s.render(w, r, http.StatusUnprocessableEntity, "rules", view{Title: "规则", Nav: "rules", User: u, CSRF: u.csrf,
			Error: "重新加载失败，继续使用原规则：" + err.Error(), Data: &d})
		return
	}
	s.Logger.InfoContext(r.Context(), "console reload", "actor", u.Actor.ID)
	http.Redirect(w, r, Prefix+"rules?ok=reloaded", http.StatusSeeOther)
}
