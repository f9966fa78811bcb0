package app

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/mashangban/mashangban/classify"
	"github.com/mashangban/mashangban/dispatch"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
	"github.com/mashangban/mashangban/web"
)

// console is the web console of the office and the departments, mounted at
// /ui/; a process that does not run dispatch (the console acts through it)
// answers 404 there.
func (a *App) console() http.Handler {
	if a.disp == nil {
		return http.NotFoundHandler()
	}
	deps := web.Deps{
		Store:          a.store,
		Dispatcher:     a.disp,
		Authenticate:   a.signIn,
		DepartmentName: a.departmentName,
		Districts:      a.districts,
		Logger:         a.logger.With("component", "web"),
		StillValid:     func(actor string, office bool) bool { return a.creds.Load().configured(actor, office) },
	}
	if a.rules != nil {
		deps.RuleStatus = a.webRuleStatus
		deps.Explain = a.explain
		deps.Reload = a.rules.Reload
		deps.MayReload = func(actor string) bool { return a.creds.Load().admin(actor) }
	}
	return web.New(deps)
}

// webRuleStatus is the rules page's view of rulesStatus.
func (a *App) webRuleStatus() web.RuleStatus {
	st := a.rulesStatus()
	out := web.RuleStatus{Version: st.RuleSetVersion, LastReloadError: st.LastReloadError}
	if m := st.Model; m != nil {
		out.Model = &web.ModelStatus{Version: m.Version}
		if m.Trained != nil {
			out.Model.TrainedAt, out.Model.Examples = m.Trained.At, m.Trained.Examples
		}
	}
	return out
}

// explain classifies a trial text with the serving rule set, as
// `mashangban rules explain` does.
func (a *App) explain(text string) (web.Explanation, error) {
	e := a.rules.Engine()
	if e == nil {
		return web.Explanation{}, errors.New("no rule set is serving")
	}
	d, tr := e.Explain(model.Post{ID: "console:trial", Channel: model.ChannelWeibo, Text: text})
	var b strings.Builder
	if err := classify.WriteExplain(&b, d, tr); err != nil {
		return web.Explanation{}, err
	}
	return web.Explanation{Decision: d, Trace: b.String()}, nil
}

// signIn maps a console sign-in token to its actor: a configured
// department's token, or the office's or an administrator's (who act as the
// office). A department removed from the configuration cannot sign in.
func (a *App) signIn(_ context.Context, token string) (dispatch.Actor, error) {
	p, ok := a.creds.Load().lookup(token)
	if !ok {
		return dispatch.Actor{}, dispatch.ErrUnauthorized
	}
	return dispatch.Actor{ID: p.name, Supervisor: p.role >= RoleOffice}, nil
}

// departmentName is the configured name of a department, else the rule
// set's, else its ID.
func (a *App) departmentName(id string) string {
	if n := a.disp.DepartmentName(id); n != "" && n != id {
		return n
	}
	if a.rules != nil {
		if e := a.rules.Engine(); e != nil {
			for _, d := range e.Tree().RuleSet().Departments {
				if d.ID == id && d.Name != "" {
					return d.Name
				}
			}
		}
	}
	return id
}

// districts are the current rule set's districts, or the built-in ones when
// this process does not classify.
func (a *App) districts() []model.District {
	ds := rules.MaanshanDistricts
	if a.rules != nil {
		if e := a.rules.Engine(); e != nil {
			ds = e.Tree().RuleSet().Districts
		}
	}
	out := make([]model.District, 0, len(ds))
	for _, d := range ds {
		out = append(out, model.District{Code: d.Code, Name: d.Name})
	}
	return out
}
