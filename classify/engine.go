package classify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
)

// MaxTextBytes bounds the text classified; longer posts are cut there and
// go to triage (a Weibo post is at most 2,000 characters, about 6 KB).
const MaxTextBytes = 32 << 10

// Triage reasons. Reasons that carry data start with these prefixes.
const (
	ReasonEmpty           = "empty post"
	ReasonInvalidUTF8     = "invalid utf-8 replaced"
	ReasonTooLong         = "post too long, cut"
	ReasonNoRoute         = "no route matched"
	ReasonLowConfidence   = "model confidence below threshold"
	ReasonDistrictUnknown = "district unknown"
	ReasonModelUnmapped   = "model label maps to no category or department"
)

// Segmenter cuts text into words; *segment.Segmenter is one.
type Segmenter interface {
	Cut(text string) []string
}

// Resolution is where a post is: the districts, how they were found
// ("place", "geo", "region", "none") and the places named.
type Resolution struct {
	Districts []model.District
	By        string
	Places    []model.PlaceMatch
}

// Resolver finds the districts of a post; the gazetteer is one.
type Resolver func(text string, tokens []string, geo *model.Geo, region string) Resolution

// Prediction is the learned fallback's answer for one post.
type Prediction struct {
	Label      string
	Confidence float64
	Scores     []LabelScore // most probable first
}

// LabelScore is one label's probability.
type LabelScore struct {
	Label string
	Prob  float64
}

// Predictor is the learned fallback; *model.Model from classify/linear is
// adapted to it by ModelPredictor.
type Predictor interface {
	Predict(tokens []string, text string) Prediction
	Version() string
}

// Engine classifies posts with one compiled tree, a segmenter and a place
// resolver. It is immutable and safe for concurrent use.
type Engine struct {
	tree    *Tree
	seg     Segmenter
	resolve Resolver
	now     func() time.Time
}

// NewEngine binds a tree to a segmenter and a resolver. A nil resolver
// finds no places (every district unknown unless the rules do not care).
func NewEngine(tree *Tree, seg Segmenter, resolve Resolver) *Engine {
	if resolve == nil {
		resolve = func(string, []string, *model.Geo, string) Resolution { return Resolution{By: "none"} }
	}
	return &Engine{tree: tree, seg: seg, resolve: resolve, now: time.Now}
}

// Tree is the compiled rule set the engine uses.
func (e *Engine) Tree() *Tree { return e.tree }

// Classify implements Classifier.
func (e *Engine) Classify(_ context.Context, p model.Post) model.Decision {
	d, _ := e.decide(p, false)
	return d
}

// Explain classifies p and records every step: the words, the places,
// every route tried and why it matched or not, the model's scores.
func (e *Engine) Explain(p model.Post) (model.Decision, *Trace) {
	return e.decide(p, true)
}

// Trace is the full story of one decision, for `mashangban rules explain`.
type Trace struct {
	Text       string // the text as classified (sanitised, normalised)
	Notes      []string
	Tokens     []string
	Places     []model.PlaceMatch
	Districts  []model.District
	DistrictBy string
	Routes     []RouteTrace
	Model      *ModelTrace
	// Overridden names the route that matched but that the model overruled.
	Overridden string
}

// RouteTrace is one route's verdict. Routes after a final match are listed
// as not tried.
type RouteTrace struct {
	Name    string
	Tried   bool
	Matched bool
	Why     string
	Words   []string
}

// ModelTrace is what the learned fallback said.
type ModelTrace struct {
	Version   string
	Threshold float64
	Override  float64
	Label     string
	Score     float64
	Scores    []LabelScore
	Used      bool // its answer decided the post
}

// sanitize makes any input classifiable: valid UTF-8, no control
// characters, bounded length. It reports what it had to do.
func sanitize(s string) (string, []string) {
	var notes []string
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		notes = append(notes, ReasonInvalidUTF8)
	}
	if len(s) > MaxTextBytes {
		cut := MaxTextBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
		notes = append(notes, fmt.Sprintf("%s at %d bytes", ReasonTooLong, MaxTextBytes))
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) || r == '\u200b' || r == '\ufeff' {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(normalize(s)), notes
}

func (e *Engine) decide(p model.Post, trace bool) (model.Decision, *Trace) {
	t := e.tree
	d := model.Decision{
		Post:           p,
		Priority:       model.PriorityNormal,
		RuleSetVersion: t.Version,
		AckTemplate:    t.ack[p.Channel],
		DecidedAt:      e.now(),
	}
	if t.model != nil {
		d.ModelVersion = t.model.version
	}
	var tr *Trace
	text, notes := sanitize(p.Text)
	if trace {
		tr = &Trace{Text: text, Notes: notes}
	}
	if text == "" {
		setTriage(&d, ReasonEmpty)
		e.fallback(&d)
		if trace {
			for _, r := range t.routes {
				tr.Routes = append(tr.Routes, RouteTrace{Name: r.name})
			}
		}
		return d, tr
	}

	tokens := e.seg.Cut(text)
	d.Tokens = tokens
	res := e.resolve(text, tokens, p.Geo, p.Region)
	d.Districts = res.Districts
	d.Explanation.Places = res.Places
	d.Explanation.DistrictBy = res.By
	codes := make([]string, len(res.Districts))
	for i, dist := range res.Districts {
		codes[i] = dist.Code
	}
	if trace {
		tr.Tokens, tr.Places, tr.Districts, tr.DistrictBy = tokens, res.Places, res.Districts, res.By
	}

	st := &matchState{text: text, found: make([]bool, len(t.terms)), districts: codes}
	t.findTerms(text, placeSpans(text, res.Places), st.found)

	var matched []*route
	done := false
	for _, r := range t.routes {
		if done {
			if trace {
				tr.Routes = append(tr.Routes, RouteTrace{Name: r.name, Why: "not tried: an earlier route matched without continue"})
			}
			continue
		}
		rr := t.evalRoute(r, st, trace)
		if trace {
			tr.Routes = append(tr.Routes, RouteTrace{Name: r.name, Tried: true, Matched: rr.matched, Why: rr.why, Words: rr.words})
		}
		if !rr.matched {
			continue
		}
		matched = append(matched, r)
		d.Explanation.Routes = append(d.Explanation.Routes, model.RouteMatch{Name: r.name, Words: rr.words})
		for _, w := range rr.words {
			if !slices.Contains(d.Explanation.Words, w) {
				d.Explanation.Words = append(d.Explanation.Words, w)
			}
		}
		done = !r.cont
	}

	// The model is asked when no route matched, or when it may overrule
	// the route that leads: never a certain one.
	var pr *Prediction
	if t.model != nil && (len(matched) == 0 || (t.model.override > 0 && !matched[0].certain)) {
		p := t.model.p.Predict(tokens, text)
		pr = &p
		ms := &model.ModelScore{Label: p.Label, Score: p.Confidence, Version: t.model.version, Top: map[string]float64{}}
		for i, s := range p.Scores {
			if i == 3 {
				break
			}
			ms.Top[s.Label] = s.Prob
		}
		d.Explanation.Model = ms
		if trace {
			tr.Model = &ModelTrace{Version: t.model.version, Threshold: t.model.threshold, Override: t.model.override, Label: p.Label, Score: p.Confidence, Scores: p.Scores}
		}
	}
	if len(matched) > 0 && pr != nil && e.overrides(*pr, matched[0]) {
		// The model overrules the routes: they stay in the trace, not in
		// the decision's explanation.
		if trace {
			tr.Overridden = matched[0].name
		}
		d.Explanation.Routes = nil
		d.Explanation.Words = nil
		matched = nil
	}
	switch {
	case len(matched) > 0:
		e.applyRoutes(&d, matched, codes)
	case pr != nil:
		used := e.applyModel(&d, *pr, codes)
		if trace {
			tr.Model.Used = used
		}
	default:
		e.fallback(&d)
	}
	if len(codes) == 0 && t.triage.UnknownDistrict {
		setTriage(&d, ReasonDistrictUnknown)
	}
	for _, n := range notes {
		setTriage(&d, n)
	}
	return d, tr
}

// overrides says whether a model answer overrules the first matched
// route: the route is not certain, and the answer is at least as confident
// as both the override and the triage threshold, mapped to a category, and
// in a different top-level group than the route's.
func (e *Engine) overrides(pr Prediction, r *route) bool {
	t := e.tree
	if r.certain {
		return false
	}
	// Below its own threshold the model could only send the post to
	// triage; a route's answer is better than none.
	if t.model.override <= 0 || pr.Confidence < max(t.model.override, t.model.threshold) {
		return false
	}
	cat, _ := t.mapLabel(pr.Label)
	if cat == "" || r.category == "" {
		return false
	}
	return t.TopCategory(cat).ID != t.TopCategory(r.category).ID
}

// setTriage marks d for triage; the first reason stays first.
func setTriage(d *model.Decision, reason string) {
	if !d.Triage {
		d.Triage, d.TriageReason = true, reason
		return
	}
	if !strings.Contains(d.TriageReason, reason) {
		d.TriageReason += "; " + reason
	}
}

// fallback is the explicit catch-all: no route, no usable model answer.
func (e *Engine) fallback(d *model.Decision) {
	d.Explanation.Fallback = true
	d.Category = e.tree.fbCat
	d.Confidence = 0
	setTriage(d, ReasonNoRoute)
}

// assignTargets resolves a lead and assists for the post's districts. A
// symbolic lead over several districts goes to the coordinator with each
// district's unit assisting; over no district it cannot be resolved.
func (e *Engine) assignTargets(d *model.Decision, lead target, assists []target, codes []string) {
	t := e.tree
	leads := t.resolveTarget(lead, codes)
	var extra []model.Department
	switch {
	case len(leads) == 1:
		l := leads[0]
		d.Lead = &l
	case len(leads) > 1 && t.coord != nil:
		c := *t.coord
		d.Lead = &c
		extra = leads
	case len(leads) > 1:
		l := leads[0]
		d.Lead = &l
		extra = leads[1:]
	default: // symbolic lead, district unknown
		setTriage(d, fmt.Sprintf("%s: cannot resolve %s", ReasonDistrictUnknown, lead))
	}
	if len(codes) > 1 && t.coord != nil && lead.role == "" {
		extra = append(extra, *t.coord)
	}
	for _, a := range assists {
		extra = append(extra, t.resolveTarget(a, codes)...)
	}
	for _, x := range extra {
		if d.Lead != nil && x.ID == d.Lead.ID {
			continue
		}
		if slices.ContainsFunc(d.Assist, func(y model.Department) bool { return y.ID == x.ID }) {
			continue
		}
		d.Assist = append(d.Assist, x)
	}
}

var priorityRank = map[model.Priority]int{model.PriorityLow: 0, model.PriorityNormal: 1, model.PriorityUrgent: 2}

// applyRoutes: the first matched route leads; routes reached through
// continue add their lead and assists as assisting departments, raise the
// priority, and fill a category or SLA the first did not set.
func (e *Engine) applyRoutes(d *model.Decision, matched []*route, codes []string) {
	first := matched[0]
	var assists []target
	assists = append(assists, first.assist...)
	d.Priority = first.priority
	d.Category = first.category
	d.SLA = slaOf(first.sla)
	for _, r := range matched[1:] {
		assists = append(assists, r.lead)
		assists = append(assists, r.assist...)
		if priorityRank[r.priority] > priorityRank[d.Priority] {
			d.Priority = r.priority
		}
		if d.Category == "" {
			d.Category = r.category
		}
		if d.SLA == nil {
			d.SLA = slaOf(r.sla)
		}
	}
	d.Confidence = 1
	e.assignTargets(d, first.lead, assists, codes)
}

// applyModel uses the model's answer if it is confident and maps to
// something; otherwise the post goes to triage with the model's guess kept
// as a suggestion. It reports whether the answer decided the post.
func (e *Engine) applyModel(d *model.Decision, pr Prediction, codes []string) bool {
	t := e.tree
	m := t.model
	d.Confidence = pr.Confidence
	cat, lead := t.mapLabel(pr.Label)
	if cat == "" && lead == "" {
		e.fallback(d)
		setTriage(d, fmt.Sprintf("%s: %q", ReasonModelUnmapped, pr.Label))
		return false
	}
	d.Category = cat
	if lead != "" {
		if tg, err := t.target(lead); err == nil {
			e.assignTargets(d, tg, nil, codes)
		}
	}
	if pr.Confidence < m.threshold {
		d.Explanation.Fallback = true
		setTriage(d, fmt.Sprintf("%s (%.2f < %.2f)", ReasonLowConfidence, pr.Confidence, m.threshold))
		return false
	}
	return true
}

// mapLabel turns a model label into a category id and a lead target: the
// rule set's explicit mapping first, then a category with that id or name
// (and its default lead), then a department with that id.
func (t *Tree) mapLabel(label string) (cat, lead string) {
	if ml, ok := t.model.labels[label]; ok {
		cat, lead = ml.Category, ml.Lead
		if lead == "" && cat != "" {
			lead = t.cats[cat].Lead
		}
		return cat, lead
	}
	if id, ok := t.catByKey[label]; ok {
		return id, t.cats[id].Lead
	}
	if _, ok := t.depts[label]; ok {
		return "", label
	}
	for id, dep := range t.depts {
		if dep.Name == label {
			return "", id
		}
	}
	return "", ""
}

// TopCategory is the top-level group of a category id (itself if it has no
// parent), for comparing with labels given at the group level.
func (t *Tree) TopCategory(id string) rules.Category {
	c, ok := t.cats[id]
	if !ok {
		return rules.Category{}
	}
	if c.Parent != "" {
		if p, ok := t.cats[c.Parent]; ok {
			return p
		}
	}
	return c
}

// ModelVersion is the version of the model the engine uses, "" if none.
func (e *Engine) ModelVersion() string {
	if e.tree.model == nil {
		return ""
	}
	return e.tree.model.version
}

// CategoryLabel maps a label from labelled history (a category id or name)
// to the name of its top-level category; unknown labels come back as given.
func (t *Tree) CategoryLabel(label string) string {
	if id, ok := t.catByKey[label]; ok {
		return t.TopCategory(id).Name
	}
	return label
}

// DepartmentLabel maps a label (a department id or name) to the
// department's name; unknown labels come back as given.
func (t *Tree) DepartmentLabel(label string) string {
	if d, ok := t.depts[label]; ok {
		return d.Name
	}
	return label
}
