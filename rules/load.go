package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultPlacesFile is the name of the places file when no rule file names one.
const DefaultPlacesFile = "places.yaml"

// DefaultTriageThreshold is used when no triage section sets one.
const DefaultTriageThreshold = 0.5

// Source is one rule file's name (as shown in errors) and content.
type Source struct {
	Name string
	Data []byte
}

// IsRuleFile says whether a directory entry name is a rule file: *.yaml or
// *.yml, not hidden, not a test file. The places file is excluded later.
func IsRuleFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	ext := filepath.Ext(name)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(name, ext), "_test")
}

// Load reads the rule directory dir. The returned error, if any, is an
// Errors listing every problem, or an I/O error.
func Load(dir string) (*RuleSet, error) {
	paths, err := RuleFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("rule directory %q: no rule files (*.yaml)", dir)
	}
	rs, err := LoadFiles(paths)
	if rs != nil {
		rs.Dir = dir
	}
	return rs, err
}

// RuleFiles lists the rule files of dir in load order (lexical by name).
// Symlinks are followed, so a Kubernetes ConfigMap mount (name ->
// ..data/name) loads the current data.
func RuleFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read rule directory: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !IsRuleFile(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // dangling symlink mid-swap
			}
			return nil, fmt.Errorf("read rule directory: %w", err)
		}
		if st.IsDir() {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// LoadFiles loads the given files in the given order. A path that is a
// directory stands for its rule files.
func LoadFiles(paths []string) (*RuleSet, error) {
	var srcs []Source
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read rule file: %w", err)
		}
		names := []string{p}
		if st.IsDir() {
			if names, err = RuleFiles(p); err != nil {
				return nil, err
			}
		}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, fmt.Errorf("read rule file: %w", err)
			}
			srcs = append(srcs, Source{Name: n, Data: b})
		}
	}
	return LoadSources(srcs)
}

// LoadSources loads rule files given as bytes, in the given order. A places
// file named by a rule file is read from disk, relative to that rule file.
func LoadSources(srcs []Source) (*RuleSet, error) {
	l := &loader{rs: &RuleSet{
		Districts: MaanshanDistricts,
		Triage:    Triage{Threshold: DefaultTriageThreshold, UnknownDistrict: true},
	}}

	// Parse everything first: the places file (not a rule file) is known
	// only once some rule file names it.
	type parsed struct {
		src  Source
		root *yaml.Node
		d    *decoder
	}
	var docs []parsed
	declared := ""
	var parseErrs Errors
	for _, s := range srcs {
		d := &decoder{file: s.Name}
		root := d.parse(s.Data)
		parseErrs = append(parseErrs, d.errs...)
		d.errs = nil
		docs = append(docs, parsed{s, root, d})
		if root != nil && root.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(root.Content); i += 2 {
				if v := resolve(root.Content[i+1]); root.Content[i].Value == "places" && v.Kind == yaml.ScalarNode && v.Value != "" {
					declared = filepath.Clean(filepath.Join(filepath.Dir(s.Name), v.Value))
				}
			}
		}
	}
	isPlaces := func(name string) bool {
		if declared != "" {
			return filepath.Clean(name) == declared
		}
		return filepath.Base(name) == DefaultPlacesFile
	}
	h := sha256.New()
	defaultPlaces := ""
	for _, p := range docs {
		if isPlaces(p.src.Name) {
			defaultPlaces = p.src.Name
			continue
		}
		l.rs.Files = append(l.rs.Files, p.src.Name)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p.src.Name), len(p.src.Data))
		h.Write(p.src.Data)
		l.d = p.d
		l.file(p.root)
		l.errs = append(l.errs, p.d.errs...)
	}
	if declared == "" && len(l.rs.Files) > 0 {
		// No rule file names a places file: use places.yaml beside the rules if there is one.
		if defaultPlaces == "" {
			if p := filepath.Join(filepath.Dir(l.rs.Files[0]), DefaultPlacesFile); fileExists(p) {
				defaultPlaces = p
			}
		}
		if defaultPlaces != "" {
			l.rs.Places = defaultPlaces
			l.placesPos = Pos{File: defaultPlaces, Line: 1, Col: 1}
		}
	}
	l.errs = append(parseErrs, l.errs...)
	if len(l.rs.Files) == 0 && len(l.errs) == 0 {
		return nil, errors.New("no rule files")
	}
	if l.rs.Places != "" {
		b, err := os.ReadFile(l.rs.Places)
		if err != nil {
			l.errAt(l.placesPos, "places file %q: %v", l.rs.Places, unwrapPath(err))
		} else {
			fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(l.rs.Places), len(b))
			h.Write(b)
		}
	}
	l.validate()
	if len(l.errs) > 0 {
		order := map[string]int{}
		for i, s := range srcs {
			if _, ok := order[s.Name]; !ok {
				order[s.Name] = i
			}
		}
		sort.SliceStable(l.errs, func(i, j int) bool {
			a, b := l.errs[i].Pos, l.errs[j].Pos
			if a.File != b.File {
				return order[a.File] < order[b.File]
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, l.errs
	}
	l.rs.Version = hex.EncodeToString(h.Sum(nil))[:16]
	return l.rs, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parse reads the single YAML document of a file.
func (d *decoder) parse(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errf(nil, "empty rule file")
			return nil
		}
		d.errs = append(d.errs, yamlError(d.file, err))
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errf(&extra, "more than one YAML document in a rule file")
	}
	if len(doc.Content) == 0 {
		d.errf(nil, "empty rule file")
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		d.errf(root, "empty rule file")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.errf(root, "rule file must be a mapping, got %s", kindName(root))
		return nil
	}
	if len(root.Content) == 0 {
		d.errf(root, "empty rule file")
		return nil
	}
	return root
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into a positioned Error (the
// library gives the line only).
func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line := 0
		fmt.Sscanf(m[1], "%d", &line)
		return &Error{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "yaml: " + m[2]}
	}
	return &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// loader accumulates the sections of every file, then validates
// cross-references once all are known.
type loader struct {
	rs   *RuleSet
	d    *decoder
	errs Errors

	seen        map[string]Pos // singleton sections
	placesPos   Pos
	fallbackSet bool
	coordPos    Pos
	// positions of references, checked in validate
	refs []ref
}

type refKind int

const (
	refDept refKind = iota
	refTarget
	refCategory
)

type ref struct {
	kind refKind
	id   string
	pos  Pos
	what string
}

func (l *loader) errAt(p Pos, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) singleton(name string, f field) bool {
	if l.seen == nil {
		l.seen = map[string]Pos{}
	}
	if prev, ok := l.seen[name]; ok {
		l.d.errf(f.key, "section %q already defined at %s", name, prev)
		return false
	}
	l.seen[name] = l.d.pos(f.key)
	return true
}

var topKeys = []string{"departments", "categories", "routes", "acknowledgement", "triage", "fallback", "coordinator", "model", "places"}

func (l *loader) file(root *yaml.Node) {
	if root == nil {
		return
	}
	d := l.d
	m := d.mapping(root, "rule file", topKeys...)
	// Walk in document order so that routes keep file order.
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i].Value
		f, ok := m[k]
		if !ok || f.key != root.Content[i] {
			continue
		}
		switch k {
		case "departments":
			for _, n := range d.seq(f.val, "departments") {
				l.department(n)
			}
		case "categories":
			for _, n := range d.seq(f.val, "categories") {
				l.category(n)
			}
		case "routes":
			for _, n := range d.seq(f.val, "routes") {
				l.route(n)
			}
		case "acknowledgement":
			if l.singleton(k, f) {
				l.rs.AckPos = l.d.pos(f.key)
				l.ack(f.val)
			}
		case "triage":
			if l.singleton(k, f) {
				l.triage(f.val)
			}
		case "fallback":
			if l.singleton(k, f) {
				l.fallback(f.val)
			}
		case "coordinator":
			if l.singleton(k, f) {
				l.rs.Coordinator = d.nonEmpty(f.val, "coordinator")
				l.coordPos = d.pos(f.val)
				l.refs = append(l.refs, ref{refDept, l.rs.Coordinator, l.coordPos, "coordinator"})
			}
		case "model":
			if l.singleton(k, f) {
				l.model(f.val)
			}
		case "places":
			if l.singleton(k, f) {
				if p := d.nonEmpty(f.val, "places"); p != "" {
					l.rs.Places = filepath.Join(filepath.Dir(d.file), p)
					l.placesPos = d.pos(f.val)
				}
			}
		}
	}
}

func (l *loader) department(n *yaml.Node) {
	d := l.d
	m := d.mapping(n, "department", "id", "name", "level", "district", "role")
	if m == nil {
		return
	}
	dep := Department{Pos: d.pos(n), Level: LevelCity}
	if f, ok := m["id"]; ok {
		dep.ID = d.nonEmpty(f.val, "department id")
		if strings.HasPrefix(dep.ID, SymbolicPrefix) {
			d.errf(f.val, "department id %q must not start with %q (reserved for symbolic targets)", dep.ID, SymbolicPrefix)
		}
	} else {
		d.errf(n, "department: missing id")
	}
	if f, ok := m["name"]; ok {
		dep.Name = d.nonEmpty(f.val, "department name")
	} else {
		d.errf(n, "department %q: missing name", dep.ID)
	}
	if f, ok := m["level"]; ok {
		dep.Level = d.str(f.val, "department level")
		switch dep.Level {
		case LevelCity, LevelDistrict, LevelStreet, LevelCommunity, LevelEnterprise:
		default:
			d.errf(f.val, "department %q: unknown level %q (city, district, street, community, enterprise)", dep.ID, dep.Level)
		}
	}
	if f, ok := m["district"]; ok {
		r := d.str(f.val, "department district")
		if dist, ok := DistrictByRef(MaanshanDistricts, r); ok {
			dep.District = dist.Code
		} else if r != "" {
			d.errf(f.val, "department %q: undefined district %q", dep.ID, r)
		}
	} else if dep.Level == LevelDistrict || dep.Level == LevelStreet || dep.Level == LevelCommunity {
		d.errf(n, "department %q: level %q needs a district", dep.ID, dep.Level)
	}
	if f, ok := m["role"]; ok {
		dep.Role = d.nonEmpty(f.val, "department role")
		if _, ok := m["district"]; !ok {
			d.errf(f.val, "department %q: a role needs a district", dep.ID)
		}
	}
	l.rs.Departments = append(l.rs.Departments, dep)
}

func (l *loader) category(n *yaml.Node) {
	d := l.d
	m := d.mapping(n, "category", "id", "name", "parent", "lead")
	if m == nil {
		return
	}
	c := Category{Pos: d.pos(n)}
	if f, ok := m["id"]; ok {
		c.ID = d.nonEmpty(f.val, "category id")
	} else {
		d.errf(n, "category: missing id")
	}
	if f, ok := m["name"]; ok {
		c.Name = d.nonEmpty(f.val, "category name")
	} else {
		c.Name = c.ID
	}
	if f, ok := m["parent"]; ok {
		c.Parent = d.nonEmpty(f.val, "category parent")
		l.refs = append(l.refs, ref{refCategory, c.Parent, d.pos(f.val), fmt.Sprintf("category %q: parent", c.ID)})
	}
	if f, ok := m["lead"]; ok {
		c.Lead = d.nonEmpty(f.val, "category lead")
		l.refs = append(l.refs, ref{refTarget, c.Lead, d.pos(f.val), fmt.Sprintf("category %q: lead", c.ID)})
	}
	l.rs.Categories = append(l.rs.Categories, c)
}

func (l *loader) route(n *yaml.Node) {
	d := l.d
	m := d.mapping(n, "route", "name", "match", "districts", "continue", "certain", "priority", "sla", "category", "assign")
	if m == nil {
		return
	}
	r := Route{Pos: d.pos(n), Priority: PriorityNormal}
	if f, ok := m["name"]; ok {
		r.Name = d.nonEmpty(f.val, "route name")
	} else {
		d.errf(n, "route: missing name")
	}
	what := fmt.Sprintf("route %q", r.Name)
	if f, ok := m["match"]; ok {
		r.Match = l.match(f.val, what)
	} else {
		d.errf(n, "%s: missing match", what)
	}
	if f, ok := m["districts"]; ok {
		for _, c := range d.seq(f.val, what+": districts") {
			s := d.nonEmpty(c, what+": district")
			if dist, ok := DistrictByRef(MaanshanDistricts, s); ok {
				r.Districts = append(r.Districts, dist.Code)
			} else if s != "" {
				d.errf(c, "%s: undefined district %q", what, s)
			}
		}
	}
	if f, ok := m["continue"]; ok {
		r.Continue = d.boolean(f.val, what+": continue")
	}
	if f, ok := m["certain"]; ok {
		r.Certain = d.boolean(f.val, what+": certain")
	}
	if f, ok := m["priority"]; ok {
		r.Priority = d.str(f.val, what+": priority")
		switch r.Priority {
		case PriorityLow, PriorityNormal, PriorityUrgent:
		default:
			d.errf(f.val, "%s: unknown priority %q (low, normal, urgent)", what, r.Priority)
		}
	}
	if f, ok := m["sla"]; ok {
		r.SLA = l.sla(f.val, what)
	}
	if f, ok := m["category"]; ok {
		r.Category = d.nonEmpty(f.val, what+": category")
		l.refs = append(l.refs, ref{refCategory, r.Category, d.pos(f.val), what})
	}
	if f, ok := m["assign"]; ok {
		am := d.mapping(f.val, what+": assign", "lead", "assist")
		if lf, ok := am["lead"]; ok {
			r.Assign.Lead = d.nonEmpty(lf.val, what+": lead")
			l.refs = append(l.refs, ref{refTarget, r.Assign.Lead, d.pos(lf.val), what + ": lead"})
		} else if am != nil {
			d.errf(f.val, "%s: assign needs a lead", what)
		}
		if af, ok := am["assist"]; ok {
			for _, c := range d.seq(af.val, what+": assist") {
				s := d.nonEmpty(c, what+": assist entry")
				if s != "" {
					r.Assign.Assist = append(r.Assign.Assist, s)
					l.refs = append(l.refs, ref{refTarget, s, d.pos(c), what + ": assist"})
				}
			}
		}
	} else {
		d.errf(n, "%s: missing assign", what)
	}
	l.rs.Routes = append(l.rs.Routes, r)
}

func (l *loader) match(n *yaml.Node, what string) Match {
	d := l.d
	m := d.mapping(n, what+": match", "all", "any", "none", "phrases", "regex")
	var mt Match
	if m == nil {
		return mt
	}
	if f, ok := m["all"]; ok {
		mt.All = d.strList(f.val, what+": all")
	}
	if f, ok := m["any"]; ok {
		mt.Any = d.strList(f.val, what+": any")
	}
	if f, ok := m["none"]; ok {
		mt.None = d.strList(f.val, what+": none")
	}
	if f, ok := m["phrases"]; ok {
		mt.Phrases = d.strList(f.val, what+": phrases")
	}
	if f, ok := m["regex"]; ok {
		mt.Regex = d.nonEmpty(f.val, what+": regex")
		if mt.Regex != "" {
			if _, err := regexp.Compile(AnchorRegex(mt.Regex)); err != nil {
				d.errf(f.val, "%s: bad regex %q: %v", what, mt.Regex, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			}
		}
	}
	_, hasAll := m["all"]
	_, hasAny := m["any"]
	_, hasPhrases := m["phrases"]
	_, hasRegex := m["regex"]
	if !hasAll && !hasAny && !hasPhrases && !hasRegex {
		d.errf(n, "%s: match needs all, any, phrases or regex (it would match every post)", what)
	}
	return mt
}

// AnchorRegex anchors a route's regex at both ends of the text, as
// Prometheus does for relabelling: "(?s)^(?:re)$".
func AnchorRegex(re string) string { return "(?s)^(?:" + re + ")$" }

func (l *loader) sla(n *yaml.Node, what string) *SLA {
	d := l.d
	m := d.mapping(n, what+": sla", "claim", "reply", "close")
	if m == nil {
		return nil
	}
	s := &SLA{}
	if f, ok := m["claim"]; ok {
		s.Claim = d.duration(f.val, what+": sla claim")
	}
	if f, ok := m["reply"]; ok {
		s.Reply = d.duration(f.val, what+": sla reply")
	}
	if f, ok := m["close"]; ok {
		s.Close = d.duration(f.val, what+": sla close")
	}
	if len(m) == 0 {
		d.errf(n, "%s: sla needs claim, reply or close", what)
	}
	if s.Claim > 0 && s.Reply > 0 && s.Claim > s.Reply {
		d.errf(n, "%s: sla claim %s is later than reply %s", what, fmtDuration(s.Claim), fmtDuration(s.Reply))
	}
	if s.Reply > 0 && s.Close > 0 && s.Reply > s.Close {
		d.errf(n, "%s: sla reply %s is later than close %s", what, fmtDuration(s.Reply), fmtDuration(s.Close))
	}
	return s
}

// fmtDuration prints 8h rather than 8h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ackData mirrors reply.Data, what the dispatcher renders a rule set's
// acknowledgement with, so templates are checked at load without importing
// it: a template that uses any other field fails here.
type ackData struct {
	CaseNo, Lead, Dept, To, District, Category, Problem, Text string
	Count                                                     int
	From, Claim, Reply, Close, Link                           string
	Repeat                                                    bool
}

// sampleAck is what templates are executed with at load time.
var sampleAck = ackData{CaseNo: "MSB-20260101-0001", Lead: "市城市管理局", District: "花山区", Category: "路灯", Problem: "路灯不亮",
	Count: 2, Claim: "24小时", Reply: "72小时", Close: "7天"}

func (l *loader) ack(n *yaml.Node) {
	d := l.d
	keys := append([]string{"default"}, Channels...)
	m := d.mapping(n, "acknowledgement", keys...)
	l.rs.Ack = map[string]string{}
	for _, k := range keys {
		f, ok := m[k]
		if !ok {
			continue
		}
		src := d.nonEmpty(f.val, "acknowledgement "+k)
		if src == "" {
			continue
		}
		t, err := template.New(k).Option("missingkey=error").Parse(src)
		if err == nil {
			repeat := sampleAck
			repeat.Repeat = true
			for _, data := range []ackData{sampleAck, repeat} {
				var b strings.Builder
				if err = t.Execute(&b, data); err != nil {
					break
				}
				if !strings.Contains(b.String(), data.CaseNo) {
					err = fmt.Errorf("the text does not contain the case number (.CaseNo) when .Repeat is %v", data.Repeat)
					break
				}
			}
		}
		if err != nil {
			d.errf(f.val, "acknowledgement %s: bad template: %v", k, strings.TrimPrefix(err.Error(), "template: "))
			continue
		}
		l.rs.Ack[k] = src
	}
	if def, ok := l.rs.Ack["default"]; ok {
		for _, c := range Channels {
			if _, ok := l.rs.Ack[c]; !ok {
				l.rs.Ack[c] = def
			}
		}
		delete(l.rs.Ack, "default")
	}
}

// reFixedDeadline is a deadline written out as text ("72小时", "3个工作日")
// rather than taken from the route (.Claim, .Reply, .Close).
var reFixedDeadline = regexp.MustCompile(`[0-9０-９]+\s*个?(?:小时|天|日|分钟|工作日)`)

// reAction is a template action, removed before looking for fixed deadlines.
var reAction = regexp.MustCompile(`(?s)\{\{.*?\}\}`)

// FixedAckDeadline reports a deadline that the rule set's acknowledgement
// section states as fixed text (the "72小时" a rules directory written by
// an earlier version carries): such a text promises the same deadline on
// every route, also where the route's own is shorter. It returns the first
// such phrase and its channel, or "" when there is none.
func (rs *RuleSet) FixedAckDeadline() (phrase, channel string) {
	for _, c := range Channels {
		if m := reFixedDeadline.FindString(reAction.ReplaceAllString(rs.Ack[c], " ")); m != "" {
			return m, c
		}
	}
	return "", ""
}

func (l *loader) triage(n *yaml.Node) {
	d := l.d
	m := d.mapping(n, "triage", "threshold", "unknown_district")
	if f, ok := m["threshold"]; ok {
		l.rs.Triage.Threshold = d.fraction(f.val, "triage threshold")
	}
	if f, ok := m["unknown_district"]; ok {
		l.rs.Triage.UnknownDistrict = d.boolean(f.val, "triage unknown_district")
	}
}

func (l *loader) fallback(n *yaml.Node) {
	d := l.d
	m := d.mapping(n, "fallback", "name", "category")
	l.fallbackSet = true
	l.rs.Fallback.Pos = d.pos(n)
	if f, ok := m["name"]; ok {
		l.rs.Fallback.Name = d.nonEmpty(f.val, "fallback name")
	} else if m != nil {
		d.errf(n, "fallback: missing name")
	}
	if f, ok := m["category"]; ok {
		l.rs.Fallback.Category = d.nonEmpty(f.val, "fallback category")
		l.refs = append(l.refs, ref{refCategory, l.rs.Fallback.Category, d.pos(f.val), "fallback"})
	}
}

func (l *loader) model(n *yaml.Node) {
	d := l.d
	m := d.mapping(n, "model", "file", "threshold", "override", "labels")
	if m == nil {
		return
	}
	mr := &ModelRef{Pos: d.pos(n), Labels: map[string]ModelLabel{}}
	if f, ok := m["file"]; ok {
		if p := d.nonEmpty(f.val, "model file"); p != "" {
			mr.File = filepath.Join(filepath.Dir(d.file), p)
		}
	} else {
		d.errf(n, "model: missing file")
	}
	if f, ok := m["threshold"]; ok {
		mr.Threshold = d.fraction(f.val, "model threshold")
	}
	if f, ok := m["override"]; ok {
		mr.Override = d.fraction(f.val, "model override")
	}
	if f, ok := m["labels"]; ok {
		lm := resolve(f.val)
		if lm.Kind != yaml.MappingNode {
			d.errf(lm, "model labels must be a mapping, got %s", kindName(lm))
		} else {
			for i := 0; i+1 < len(lm.Content); i += 2 {
				k := lm.Content[i]
				if _, dup := mr.Labels[k.Value]; dup {
					d.errf(k, "model labels: duplicate label %q", k.Value)
					continue
				}
				what := fmt.Sprintf("model label %q", k.Value)
				vm := d.mapping(lm.Content[i+1], what, "category", "lead")
				var ml ModelLabel
				if cf, ok := vm["category"]; ok {
					ml.Category = d.nonEmpty(cf.val, what+": category")
					l.refs = append(l.refs, ref{refCategory, ml.Category, d.pos(cf.val), what})
				}
				if lf, ok := vm["lead"]; ok {
					ml.Lead = d.nonEmpty(lf.val, what+": lead")
					l.refs = append(l.refs, ref{refTarget, ml.Lead, d.pos(lf.val), what + ": lead"})
				}
				if vm != nil && ml.Category == "" && ml.Lead == "" {
					d.errf(lm.Content[i+1], "%s: give a category or a lead", what)
				}
				mr.Labels[k.Value] = ml
			}
		}
	}
	l.rs.Model = mr
}

// validate checks what spans files: uniqueness and references.
func (l *loader) validate() {
	rs := l.rs
	firstPos := Pos{Line: 1, Col: 1}
	if len(rs.Files) > 0 {
		firstPos.File = rs.Files[0]
	}

	deps := map[string]Department{}
	depNames := map[string]Pos{}
	roles := map[string]map[string]bool{} // role -> district codes
	for _, dep := range rs.Departments {
		if dep.ID != "" {
			if prev, ok := deps[dep.ID]; ok {
				l.errAt(dep.Pos, "duplicate department id %q (first defined at %s)", dep.ID, prev.Pos)
			} else {
				deps[dep.ID] = dep
			}
		}
		if dep.Name != "" {
			if prev, ok := depNames[dep.Name]; ok {
				l.errAt(dep.Pos, "duplicate department name %q (first defined at %s)", dep.Name, prev)
			} else {
				depNames[dep.Name] = dep.Pos
			}
		}
		if dep.Role != "" && dep.District != "" {
			if roles[dep.Role] == nil {
				roles[dep.Role] = map[string]bool{}
			}
			if roles[dep.Role][dep.District] {
				l.errAt(dep.Pos, "department %q: district %s already has a department with role %q", dep.ID, dep.District, dep.Role)
			}
			roles[dep.Role][dep.District] = true
		}
	}

	cats := map[string]Category{}
	catNames := map[string]Pos{}
	for _, c := range rs.Categories {
		if c.ID != "" {
			if prev, ok := cats[c.ID]; ok {
				l.errAt(c.Pos, "duplicate category id %q (first defined at %s)", c.ID, prev.Pos)
			} else {
				cats[c.ID] = c
			}
		}
		if c.Name != "" {
			if prev, ok := catNames[c.Name]; ok && c.Name != c.ID {
				l.errAt(c.Pos, "duplicate category name %q (first defined at %s)", c.Name, prev)
			} else if !ok {
				catNames[c.Name] = c.Pos
			}
		}
	}
	for _, c := range rs.Categories {
		if c.Parent == "" {
			continue
		}
		if p, ok := cats[c.Parent]; ok && p.Parent != "" {
			l.errAt(c.Pos, "category %q: parent %q is not a top-level category", c.ID, c.Parent)
		}
	}

	names := map[string]Pos{}
	for _, r := range rs.Routes {
		if r.Name == "" {
			continue
		}
		if prev, ok := names[r.Name]; ok {
			l.errAt(r.Pos, "duplicate route name %q (first defined at %s)", r.Name, prev)
		} else {
			names[r.Name] = r.Pos
		}
	}
	if rs.Fallback.Name != "" {
		if prev, ok := names[rs.Fallback.Name]; ok {
			l.errAt(rs.Fallback.Pos, "fallback name %q is also a route (defined at %s)", rs.Fallback.Name, prev)
		}
	}

	for _, r := range l.refs {
		if r.id == "" {
			continue
		}
		switch r.kind {
		case refDept:
			if _, ok := deps[r.id]; !ok {
				l.errAt(r.pos, "%s: undefined department %q", r.what, r.id)
			}
		case refCategory:
			if _, ok := cats[r.id]; !ok {
				l.errAt(r.pos, "%s: undefined category %q", r.what, r.id)
			}
		case refTarget:
			if role, ok := strings.CutPrefix(r.id, SymbolicPrefix); ok {
				have := roles[role]
				if len(have) == 0 {
					l.errAt(r.pos, "%s: symbolic target %q: no department has role %q", r.what, r.id, role)
					continue
				}
				var missing []string
				for _, dist := range rs.Districts {
					if !have[dist.Code] {
						missing = append(missing, dist.Name)
					}
				}
				if len(missing) > 0 {
					l.errAt(r.pos, "%s: symbolic target %q: no department with role %q in %s", r.what, r.id, role, strings.Join(missing, "、"))
				}
			} else if _, ok := deps[r.id]; !ok {
				l.errAt(r.pos, "%s: undefined department %q", r.what, r.id)
			}
		}
	}

	if !l.fallbackSet {
		l.errAt(firstPos, "no fallback section: posts no route matches need an explicit fallback")
	}
	if len(rs.Routes) == 0 && len(rs.Files) > 0 {
		l.errAt(firstPos, "no routes")
	}
	if rs.Model != nil && rs.Model.Threshold == 0 {
		rs.Model.Threshold = rs.Triage.Threshold
	}
}
