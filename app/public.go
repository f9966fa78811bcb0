package app

import (
	"github.com/mashangban/mashangban/public"
	"github.com/mashangban/mashangban/rules"
)

// publicPages builds the public case page and the Open311 endpoint. They
// name departments and categories by the rule set in force: the classify
// role's, which follows every reload; a process without that role reads the
// rule directory once at start (a directory that does not load leaves the
// departments unnamed, shown as 相关部门, never by their codes).
func (a *App) publicPages() *public.Server {
	ruleSet := func() *rules.RuleSet { return nil }
	if a.rules != nil {
		ruleSet = func() *rules.RuleSet { return a.rules.Engine().Tree().RuleSet() }
	} else if rs, err := rules.Load(a.cfg.RulesDir()); err != nil {
		a.logger.Warn("public pages: cannot read the rule set, departments are shown unnamed", "dir", a.cfg.RulesDir(), "error", err)
	} else {
		ruleSet = func() *rules.RuleSet { return rs }
	}
	return public.New(a.store, public.Options{RuleSet: ruleSet, Logger: a.logger})
}
