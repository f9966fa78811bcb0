package classify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
)

// Tree is a compiled rule set: every name resolved, every word indexed,
// every regex compiled. It is immutable, safe for concurrent use, and
// matching against it cannot fail.
type Tree struct {
	Version string

	terms    []string           // normalised words, indexed by term id
	termIdx  map[string][]int32 // first two runes (or the only one) -> term ids
	routes   []*route           // in rule order
	fallback rules.Fallback     // the explicit catch-all
	fbCat    string             // its category
	depts    map[string]model.Department
	roles    map[string]map[string]model.Department // role -> district code -> department
	cats     map[string]rules.Category
	catByKey map[string]string // category id or name -> id
	ack      map[model.Channel]string
	triage   rules.Triage
	coord    *model.Department
	model    *modelRef
	rs       *rules.RuleSet
	dnames   map[string]string // district code -> name, for explanations
}

type target struct {
	id   string // department id, or "" for a symbolic target
	role string // for symbolic targets: the department role in the post's district
}

func (t target) String() string {
	if t.role != "" {
		return rules.SymbolicPrefix + t.role
	}
	return t.id
}

type route struct {
	name      string
	all       []int32
	any       []int32
	none      []int32
	phrases   []string
	re        *regexp.Regexp
	districts []string
	cont      bool
	certain   bool // the model's override never overrules it
	priority  model.Priority
	sla       *model.SLA
	category  string
	lead      target
	assist    []target
}

// modelRef is the learned fallback bound to the rule set's label mapping.
type modelRef struct {
	p         Predictor
	version   string
	threshold float64
	override  float64
	labels    map[string]rules.ModelLabel
}

// Compile turns a loaded rule set into a Tree. pred may be nil (no model
// configured, or the caller does not want one); a rule set that configures a
// model but gets none compiles without it.
func Compile(rs *rules.RuleSet, pred Predictor) (*Tree, error) {
	t := &Tree{
		Version:  rs.Version,
		termIdx:  map[string][]int32{},
		depts:    map[string]model.Department{},
		roles:    map[string]map[string]model.Department{},
		cats:     map[string]rules.Category{},
		catByKey: map[string]string{},
		ack:      map[model.Channel]string{},
		triage:   rs.Triage,
		fallback: rs.Fallback,
		fbCat:    rs.Fallback.Category,
		rs:       rs,
		dnames:   map[string]string{},
	}
	for _, d := range rs.Districts {
		t.dnames[d.Code] = d.Name
	}
	for _, d := range rs.Departments {
		md := model.Department{ID: d.ID, Name: d.Name}
		t.depts[d.ID] = md
		if d.Role != "" {
			if t.roles[d.Role] == nil {
				t.roles[d.Role] = map[string]model.Department{}
			}
			t.roles[d.Role][d.District] = md
		}
	}
	for _, c := range rs.Categories {
		t.cats[c.ID] = c
		t.catByKey[c.ID] = c.ID
		if _, ok := t.catByKey[c.Name]; !ok {
			t.catByKey[c.Name] = c.ID
		}
	}
	for ch, src := range rs.Ack {
		t.ack[model.Channel(ch)] = src
	}
	if rs.Coordinator != "" {
		d, ok := t.depts[rs.Coordinator]
		if !ok {
			return nil, fmt.Errorf("compile rules: undefined coordinator %q", rs.Coordinator)
		}
		t.coord = &d
	}
	termIDs := map[string]int32{}
	intern := func(w string) int32 {
		w = normalize(w)
		if id, ok := termIDs[w]; ok {
			return id
		}
		id := int32(len(t.terms))
		t.terms = append(t.terms, w)
		termIDs[w] = id
		k := termKey(w)
		t.termIdx[k] = append(t.termIdx[k], id)
		return id
	}
	for _, r := range rs.Routes {
		cr := &route{
			name:      r.Name,
			phrases:   make([]string, 0, len(r.Match.Phrases)),
			districts: r.Districts,
			cont:      r.Continue,
			certain:   r.Certain,
			priority:  model.Priority(r.Priority),
			category:  r.Category,
		}
		if cr.priority == "" {
			cr.priority = model.PriorityNormal
		}
		for _, w := range r.Match.All {
			cr.all = append(cr.all, intern(w))
		}
		for _, w := range r.Match.Any {
			cr.any = append(cr.any, intern(w))
		}
		for _, w := range r.Match.None {
			cr.none = append(cr.none, intern(w))
		}
		for _, p := range r.Match.Phrases {
			cr.phrases = append(cr.phrases, normalize(p))
		}
		if r.Match.Regex != "" {
			re, err := regexp.Compile(rules.AnchorRegex(r.Match.Regex))
			if err != nil {
				return nil, fmt.Errorf("compile rules: route %q: %w", r.Name, err)
			}
			cr.re = re
		}
		if r.SLA != nil {
			s := model.DefaultSLA
			if r.SLA.Claim > 0 {
				s.Claim = model.Duration(r.SLA.Claim)
			}
			if r.SLA.Reply > 0 {
				s.Reply = model.Duration(r.SLA.Reply)
			}
			if r.SLA.Close > 0 {
				s.Close = model.Duration(r.SLA.Close)
			}
			// A route that shortens only the claim deadline must not leave
			// reply or close before it.
			s.Reply = max(s.Reply, s.Claim)
			s.Close = max(s.Close, s.Reply)
			cr.sla = &s
		}
		var err error
		if cr.lead, err = t.target(r.Assign.Lead); err != nil {
			return nil, fmt.Errorf("compile rules: route %q: %w", r.Name, err)
		}
		for _, a := range r.Assign.Assist {
			tg, err := t.target(a)
			if err != nil {
				return nil, fmt.Errorf("compile rules: route %q: %w", r.Name, err)
			}
			cr.assist = append(cr.assist, tg)
		}
		t.routes = append(t.routes, cr)
	}
	if rs.Model != nil && pred != nil {
		t.model = &modelRef{p: pred, version: pred.Version(), threshold: rs.Model.Threshold, override: rs.Model.Override, labels: rs.Model.Labels}
	}
	return t, nil
}

func (t *Tree) target(s string) (target, error) {
	if role, ok := strings.CutPrefix(s, rules.SymbolicPrefix); ok {
		if len(t.roles[role]) == 0 {
			return target{}, fmt.Errorf("no department has role %q", role)
		}
		return target{role: role}, nil
	}
	if _, ok := t.depts[s]; !ok {
		return target{}, fmt.Errorf("undefined department %q", s)
	}
	return target{id: s}, nil
}

// RuleSet is the rule set the tree was compiled from.
func (t *Tree) RuleSet() *rules.RuleSet { return t.rs }

// Routes lists the route names in order.
func (t *Tree) Routes() []string {
	out := make([]string, len(t.routes))
	for i, r := range t.routes {
		out[i] = r.name
	}
	return out
}

// normalize folds full-width Latin letters and digits to half width and
// lowercases, so that rule words and post text compare alike.
func normalize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToLower(width.Fold.String(s))
}

// termKey is the index key of a word: its first two runes.
func termKey(w string) string {
	_, n1 := utf8.DecodeRuneInString(w)
	if n1 == len(w) {
		return w
	}
	_, n2 := utf8.DecodeRuneInString(w[n1:])
	return w[:n1+n2]
}

// matchState is what one post's text offers the routes.
type matchState struct {
	text      string
	found     []bool // by term id
	districts []string
}

// findTerms marks every rule word that occurs in text, except occurrences
// that cut into a place name (spans): 印山东路 is a road and never yields
// the word 山东. A word equal to a whole place name still counts.
func (t *Tree) findTerms(text string, spans [][2]int, found []bool) {
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		_ = r
		// Single-rune words are indexed under themselves.
		if ids, ok := t.termIdx[text[i:i+n]]; ok {
			t.mark(text, i, ids, spans, found)
		}
		if i+n < len(text) {
			_, n2 := utf8.DecodeRuneInString(text[i+n:])
			if ids, ok := t.termIdx[text[i:i+n+n2]]; ok {
				t.mark(text, i, ids, spans, found)
			}
		}
		i += n
	}
}

func (t *Tree) mark(text string, i int, ids []int32, spans [][2]int, found []bool) {
	for _, id := range ids {
		if found[id] {
			continue
		}
		w := t.terms[id]
		if !strings.HasPrefix(text[i:], w) {
			continue
		}
		if cutsPlace(i, i+len(w), spans) {
			continue
		}
		found[id] = true
	}
}

func cutsPlace(s, e int, spans [][2]int) bool {
	for _, sp := range spans {
		if s == sp[0] && e == sp[1] {
			return false
		}
		if s < sp[1] && e > sp[0] { // overlaps
			return true
		}
	}
	return false
}

// placeSpans are the byte ranges of place names in text.
func placeSpans(text string, places []model.PlaceMatch) [][2]int {
	var spans [][2]int
	for _, p := range places {
		if p.Text == "" {
			continue
		}
		name := normalize(p.Text)
		for off := 0; ; {
			j := strings.Index(text[off:], name)
			if j < 0 {
				break
			}
			spans = append(spans, [2]int{off + j, off + j + len(name)})
			off += j + len(name)
		}
	}
	return spans
}

// routeResult is one route's verdict on a post.
type routeResult struct {
	matched bool
	words   []string // words and phrases that made it match
	why     string   // filled when tracing
}

func (t *Tree) evalRoute(r *route, st *matchState, trace bool) routeResult {
	var res routeResult
	fail := func(format string, args ...any) routeResult {
		if trace {
			res.why = fmt.Sprintf(format, args...)
		}
		res.matched = false
		res.words = nil
		return res
	}
	if len(r.districts) > 0 {
		in := false
		for _, d := range st.districts {
			in = in || slices.Contains(r.districts, d)
		}
		if !in {
			if len(st.districts) == 0 {
				return fail("district unknown, route limited to %s", t.districtNames(r.districts))
			}
			return fail("district %s outside the route's %s", t.districtNames(st.districts), t.districtNames(r.districts))
		}
	}
	for _, id := range r.none {
		if st.found[id] {
			return fail("excluded word %q present", t.terms[id])
		}
	}
	for _, id := range r.all {
		if !st.found[id] {
			return fail("required word %q missing", t.terms[id])
		}
		res.words = append(res.words, t.terms[id])
	}
	if len(r.any) > 0 {
		hit := false
		for _, id := range r.any {
			if st.found[id] {
				hit = true
				res.words = append(res.words, t.terms[id])
			}
		}
		if !hit {
			return fail("none of the words %s", t.quoteTerms(r.any, 6))
		}
	}
	if len(r.phrases) > 0 {
		hit := false
		for _, p := range r.phrases {
			if strings.Contains(st.text, p) {
				hit = true
				res.words = append(res.words, p)
			}
		}
		if !hit {
			return fail("none of the phrases %s", quoteList(r.phrases, 6))
		}
	}
	if r.re != nil && !r.re.MatchString(st.text) {
		return fail("regex %s does not match", r.re.String())
	}
	res.matched = true
	if trace {
		res.why = "matched " + quoteList(res.words, 0)
		if r.re != nil {
			res.why += " and regex"
		}
	}
	return res
}

func (t *Tree) districtNames(codes []string) string {
	if len(codes) == 0 || t.dnames == nil {
		return strings.Join(codes, "、")
	}
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = t.dnames[c]
		if names[i] == "" {
			names[i] = c
		}
	}
	return strings.Join(names, "、")
}

func (t *Tree) quoteTerms(ids []int32, limit int) string {
	ws := make([]string, len(ids))
	for i, id := range ids {
		ws[i] = t.terms[id]
	}
	return quoteList(ws, limit)
}

func quoteList(ws []string, limit int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, w := range ws {
		if limit > 0 && i == limit {
			fmt.Fprintf(&b, " …%d more", len(ws)-limit)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	b.WriteByte(']')
	return b.String()
}

// resolveTarget turns a target into departments for the post's districts.
func (t *Tree) resolveTarget(tg target, districts []string) []model.Department {
	if tg.role == "" {
		return []model.Department{t.depts[tg.id]}
	}
	var out []model.Department
	for _, d := range districts {
		if dep, ok := t.roles[tg.role][d]; ok {
			out = append(out, dep)
		}
	}
	return out
}

// slaOf copies a route's SLA so that decisions never share the pointer.
func slaOf(s *model.SLA) *model.SLA {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}
