package reply

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
)

// The reply templates, one file <name>.tmpl each in templates/ (built in)
// or in the directory named by replies.templates_dir (overrides).
const (
	Ack      = "ack"      // a new case: its number, the lead department, the route's deadlines
	Merge    = "merge"    // the post joined an open case about the same problem
	Progress = "progress" // a department's answer
	Transfer = "transfer" // the case went to another department
	Resolve  = "resolve"  // a department finished its part
	Triage   = "triage"   // the post waits for a person to route it (CaseNo is the registration number)
	Unmerge  = "unmerge"  // a merge was undone: the post is a case of its own
)

// Names lists every template, in the order they are checked.
var Names = []string{Ack, Merge, Progress, Transfer, Resolve, Triage, Unmerge}

// The parts a template file may define besides its body. The body is the
// text on every channel that has no part of its own.
const (
	PartWeibo  = "weibo"  // the Weibo comment (at most 140 units, case number kept)
	PartWeChat = "wechat" // the WeChat text (written to the submission record when a message cannot be sent)
	PartTitle  = "title"  // WeChat thing keyword: what the message is about (cut to 20 characters)
	PartStatus = "status" // WeChat phrase keyword: one to five Chinese characters
)

var parts = []string{PartWeibo, PartWeChat, PartTitle, PartStatus}

//go:embed templates/*.tmpl
var builtin embed.FS

// Data is what a reply template can use. Department and district fields are
// names, never codes.
type Data struct {
	CaseNo   string // the case number (triage: the registration number)
	Lead     string // the lead department's name
	Dept     string // the department that acted (progress, resolve, transfer: the one handing over)
	To       string // transfer: the receiving department's name
	District string // district names, joined with 、
	Category string
	Problem  string // the citizen's words
	Text     string // the department's words (progress, resolve)
	Count    int    // merge: how many citizens have reported the problem
	From     string // unmerge: the case the post left
	// Claim, Reply and Close are the case's deadlines in words ("2小时",
	// "72小时", "7天").
	Claim, Reply, Close string
	// Link is the public page of the case, "" when no public base URL is
	// configured.
	Link string
	// Repeat is true for a merge (rule-set acknowledgement templates switch
	// on it).
	Repeat bool
}

// Message is a rendered reply for one channel.
type Message struct {
	// Text is the reply on its channel, within the channel's limits.
	Text string
	// Title and Status fill WeChat's thing and phrase keywords, already
	// within their limits.
	Title, Status string
}

// Set is a parsed, checked template set. It is safe for concurrent use.
type Set struct {
	t       map[string]*template.Template // by name; each holds its parts
	sources map[string]string             // by name: where it came from
	custom  sync.Map                      // rule-set acknowledgement source → *template.Template
}

// Default is the built-in template set.
func Default() *Set {
	s, err := Load("")
	if err != nil {
		panic("reply: built-in templates: " + err.Error())
	}
	return s
}

// Load parses the built-in templates and, if dir is not empty, replaces
// each one that dir holds a <name>.tmpl file for. Every template is then
// rendered for every channel with the longest names and case number: a
// parse or execution error (with file and line), a part that is not known,
// a file that names no template, a text without the case number, a Weibo
// text over 140 units or a status that is not a WeChat phrase is an error.
// All problems are reported at once.
func Load(dir string) (*Set, error) {
	s := &Set{t: map[string]*template.Template{}, sources: map[string]string{}}
	var errs []error
	for _, name := range Names {
		b, err := builtin.ReadFile("templates/" + name + ".tmpl")
		if err != nil {
			return nil, err
		}
		t, err := parse("templates/"+name+".tmpl", string(b))
		if err != nil {
			return nil, err
		}
		s.t[name], s.sources[name] = t, "built-in"
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("reply templates: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".tmpl") || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			name := strings.TrimSuffix(e.Name(), ".tmpl")
			if !slices.Contains(Names, name) {
				errs = append(errs, fmt.Errorf("%s: unknown template %q (want one of %s)", path, name, strings.Join(Names, ", ")))
				continue
			}
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			t, err := parse(path, string(b))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.t[name], s.sources[name] = t, path
		}
	}
	for _, name := range Names {
		errs = append(errs, s.check(name)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// parse reads one template file named file (its path, so that errors carry
// file:line).
func parse(file, src string) (*template.Template, error) {
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("%s: not valid UTF-8", file)
	}
	t, err := template.New(file).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	for _, x := range t.Templates() {
		if n := x.Name(); n != file && !slices.Contains(parts, n) {
			return nil, fmt.Errorf("%s: unknown part %q (want %s)", file, n, strings.Join(parts, ", "))
		}
	}
	return t, nil
}

// longest are the sample values the load check renders with: the longest
// department name of the built-in rule set, a five-digit case number (more
// than 9,999 cases in a day) and a long public link.
var longest = Data{
	CaseNo: "MSB-20261231-99999", Lead: "市人力资源和社会保障局", Dept: "市人力资源和社会保障局", To: "国网马鞍山供电公司",
	District: "花山区、雨山区、博望区", Category: "城市管理", From: "MSB-20261231-99998",
	Problem: "东方城二区16栋对面楼顶广告牌强光太亮，晚上11点还亮着",
	Text:    "已安排维修人员到现场处理，预计本周五前完成修复，感谢您的监督。",
	Count:   12345, Claim: "24小时", Reply: "72小时", Close: "7天",
	Link: "https://mashangban.example.gov.cn/c/MSB-20261231-99999",
}

// check renders template name on every channel with the longest sample and
// without the optional fields, and says what breaks a channel's rules.
func (s *Set) check(name string) []error {
	var errs []error
	src := s.sources[name]
	if src == "built-in" {
		src = "templates/" + name + ".tmpl"
	}
	short := longest
	short.Link, short.Text, short.Problem = "", "", ""
	for _, d := range []Data{longest, short} {
		d.Repeat = name == Merge
		for _, ch := range []model.Channel{model.ChannelWeibo, model.ChannelWeChat, model.ChannelReplay} {
			raw, err := s.exec(s.t[name], partFor(s.t[name], ch), d)
			if err != nil {
				return append(errs, err)
			}
			if !strings.Contains(raw, d.CaseNo) {
				errs = append(errs, fmt.Errorf("%s: the %s text does not contain the case number (.CaseNo): %q", src, ch, raw))
			}
			if ch == model.ChannelWeibo && d.Text == "" && d.Problem == "" {
				// With no free text to shorten, the fixed text and the
				// longest names must fit as they are.
				if n := WeiboLength(cleanWeibo(raw)); n > WeiboMaxUnits {
					errs = append(errs, fmt.Errorf("%s: the weibo text is %d units with the longest names, over %d: %q", src, n, WeiboMaxUnits, raw))
				}
			}
		}
		if t := s.t[name].Lookup(PartStatus); t != nil {
			st, err := s.exec(s.t[name], PartStatus, d)
			if err != nil {
				return append(errs, err)
			}
			if !IsPhrase(st) {
				errs = append(errs, fmt.Errorf("%s: status %q is not a WeChat phrase (one to five Chinese characters)", src, st))
			}
		} else {
			errs = append(errs, fmt.Errorf("%s: no status part ({{define \"status\"}}…{{end}}, one to five Chinese characters)", src))
		}
		if len(errs) > 0 {
			return errs
		}
	}
	return nil
}

// partFor is the part that holds ch's text: the channel's own part if the
// template defines one, else the body.
func partFor(t *template.Template, ch model.Channel) string {
	var p string
	switch ch {
	case model.ChannelWeibo:
		p = PartWeibo
	case model.ChannelWeChat:
		p = PartWeChat
	}
	if p != "" && t.Lookup(p) != nil {
		return p
	}
	return t.Name()
}

func (s *Set) exec(t *template.Template, part string, d Data) (string, error) {
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, part, d); err != nil {
		return "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	return strings.Join(strings.Fields(b.String()), " "), nil
}

// Render makes reply name for channel ch from d, within the channel's
// limits: a Weibo text of at most 140 units (the department's and the
// citizen's words shortened first, the case number always kept), WeChat's
// title cut to a thing value and a status that is a phrase.
func (s *Set) Render(ch model.Channel, name string, d Data) (Message, error) {
	t, ok := s.t[name]
	if !ok {
		return Message{}, fmt.Errorf("reply: unknown template %q", name)
	}
	d.Repeat = d.Repeat || name == Merge
	return s.render(ch, t, partFor(t, ch), d)
}

// RenderCustom renders a rule set's own acknowledgement template src (its
// body only) in place of the ack or merge template's text, with the same
// limits; the title and status come from the template set.
func (s *Set) RenderCustom(ch model.Channel, src string, d Data) (Message, error) {
	name := Ack
	if d.Repeat {
		name = Merge
	}
	var t *template.Template
	if v, ok := s.custom.Load(src); ok {
		t = v.(*template.Template)
	} else {
		var err error
		if t, err = template.New("acknowledgement").Option("missingkey=error").Parse(src); err != nil {
			return Message{}, fmt.Errorf("rule-set acknowledgement: %w", err)
		}
		s.custom.Store(src, t)
	}
	m, err := s.render(ch, t, t.Name(), d)
	if err != nil {
		return Message{}, err
	}
	own, err := s.Render(ch, name, d)
	if err != nil {
		return Message{}, err
	}
	m.Title, m.Status = own.Title, own.Status
	return m, nil
}

func (s *Set) render(ch model.Channel, t *template.Template, part string, d Data) (Message, error) {
	text, err := s.exec(t, part, d)
	if err != nil {
		return Message{}, err
	}
	var m Message
	switch ch {
	case model.ChannelWeibo:
		if m.Text, err = s.fitWeibo(t, part, d, text); err != nil {
			return Message{}, err
		}
	default:
		m.Text = text
		if d.CaseNo != "" && !strings.Contains(text, d.CaseNo) {
			m.Text += "（编号" + d.CaseNo + "）"
		}
	}
	def := d.Problem
	if def == "" {
		def = "您反映的问题"
	}
	m.Title = def
	if pt := t.Lookup(PartTitle); pt != nil {
		if m.Title, err = s.exec(t, PartTitle, d); err != nil {
			return Message{}, err
		}
	}
	m.Title = Thing(m.Title, Thing(def, "您反映的问题"))
	m.Status = "处理中"
	if pt := t.Lookup(PartStatus); pt != nil {
		st, err := s.exec(t, PartStatus, d)
		if err != nil {
			return Message{}, err
		}
		if IsPhrase(st) {
			m.Status = st
		}
	}
	return m, nil
}

// fitWeibo makes text a Weibo comment of at most 140 units: hashtags
// dropped, and when it is too long the department's words (Text) and then
// the citizen's (Problem) are shortened, so that the case number, the
// names and the deadlines stay whole; only a text that cannot fit that way
// is cut, with the case number kept.
func (s *Set) fitWeibo(t *template.Template, part string, d Data, text string) (string, error) {
	text = cleanWeibo(text)
	if WeiboLength(text) <= WeiboMaxUnits && (d.CaseNo == "" || strings.Contains(text, d.CaseNo)) {
		return text, nil
	}
	for _, f := range []*string{&d.Text, &d.Problem} {
		full := []rune(*f)
		if len(full) == 0 {
			continue
		}
		fits := func(n int) (string, bool) {
			*f = ellipsis(string(full), n)
			out, err := s.exec(t, part, d)
			if err != nil {
				return "", false
			}
			out = cleanWeibo(out)
			return out, WeiboLength(out) <= WeiboMaxUnits && (d.CaseNo == "" || strings.Contains(out, d.CaseNo))
		}
		// The longest cut of this field that fits (binary search: the
		// length grows with n).
		lo, hi, best := 2, len(full), ""
		for lo <= hi {
			mid := (lo + hi) / 2
			if out, ok := fits(mid); ok {
				best, lo = out, mid+1
			} else {
				hi = mid - 1
			}
		}
		if best != "" {
			return best, nil
		}
		*f = ""
		if out, ok := fits(0); ok {
			return out, nil
		}
	}
	return cutWeibo(text, d.CaseNo), nil
}

// Source says where template name was loaded from: "built-in" or a path.
func (s *Set) Source(name string) string { return s.sources[name] }

// Duration says a deadline in words: "90分钟", "2小时", "72小时", "7天"
// (whole days from four days on).
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0 && d > 72*time.Hour:
		return fmt.Sprintf("%d天", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d小时", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d分钟", d/time.Minute)
	}
	return fmt.Sprintf("%d分钟", (d+time.Minute-1)/time.Minute)
}

// WithDeadlines sets d's deadline words from sla.
func (d Data) WithDeadlines(sla model.SLA) Data {
	d.Claim, d.Reply, d.Close = Duration(time.Duration(sla.Claim)), Duration(time.Duration(sla.Reply)), Duration(time.Duration(sla.Close))
	return d
}

// CaseLink is the public page of case caseNo under base ("" without a base).
func CaseLink(base, caseNo string) string {
	if base == "" || caseNo == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/c/" + caseNo
}
