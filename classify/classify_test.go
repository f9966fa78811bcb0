package classify

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mashangban/mashangban/classify/gazetteer"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
)

// testSeg shares one gse segmenter per set of words across the package's
// tests: loading gse's dictionary takes seconds.
var testSeg = SharedSegmenter()

// fakeModel answers by the first keyword found in the text; it stands in
// for the trained model so that thresholds and overrides can be pinned.
type fakeModel map[string]Prediction

func (f fakeModel) Version() string { return "fake:1" }

func (f fakeModel) Predict(_ []string, text string) Prediction {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.Contains(text, k) {
			return f[k]
		}
	}
	return Prediction{Label: "城乡建设", Confidence: 0.1, Scores: []LabelScore{{"城乡建设", 0.1}}}
}

func pred(label string, conf float64) Prediction {
	return Prediction{Label: label, Confidence: conf, Scores: []LabelScore{{label, conf}, {"other", 1 - conf}}}
}

// testEngine builds an engine on the fixture rules with an optional model
// and model section changes.
func testEngine(t testing.TB, p Predictor, edit func(*rules.RuleSet)) *Engine {
	t.Helper()
	rs, err := rules.Load("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(rs)
	}
	tree, err := Compile(rs, p)
	if err != nil {
		t.Fatal(err)
	}
	gz := testGazetteer(t, rs)
	seg, err := testSeg(gz.Words())
	if err != nil {
		t.Fatal(err)
	}
	return NewEngine(tree, seg, GazetteerResolver(gz))
}

func testGazetteer(t testing.TB, rs *rules.RuleSet) *gazetteer.Gazetteer {
	t.Helper()
	var places []gazetteer.Place
	if rs.Places != "" {
		var err error
		b := mustRead(t, rs.Places)
		if places, err = gazetteer.ParsePlaces(rs.Places, b); err != nil {
			t.Fatal(err)
		}
	}
	gz, err := gazetteer.New(places)
	if err != nil {
		t.Fatal(err)
	}
	return gz
}

func ids(ds []model.Department) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestRuleTestFiles(t *testing.T) {
	rep, err := RunTestFiles(context.Background(), []string{"testdata/rules/rules_test.yaml"}, TestOptions{NewSegmenter: testSeg})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		for _, f := range r.Failures {
			t.Errorf("%s %s: %s (routes %v, triage %q)", r.Case.Pos, r.Case.Name, f, r.Decision.Explanation.Routes, r.Decision.TriageReason)
		}
	}
	if rep.Passed != 7 {
		t.Errorf("passed = %d, want 7", rep.Passed)
	}
	if !slices.Equal(rep.Unreached, []string{"山东"}) {
		t.Errorf("unreached = %v, want [山东]", rep.Unreached)
	}
}

func TestRuleTestRunnerReportsFailures(t *testing.T) {
	rep, err := RunTestFiles(context.Background(), []string{"testdata/failing_test.yaml"}, TestOptions{NewSegmenter: testSeg})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 1 || rep.Failed != 1 {
		t.Fatalf("passed %d failed %d, want 1 and 1", rep.Passed, rep.Failed)
	}
	f := rep.Results[0]
	if f.Case.Name != "wrong lead on purpose" || !slices.Equal(f.Failures, []string{`lead: expected "cgj", got "gas"`}) {
		t.Errorf("failures = %q", f.Failures)
	}
	if f.Case.Pos.File != "testdata/failing_test.yaml" || f.Case.Pos.Line != 3 {
		t.Errorf("case pos = %v", f.Case.Pos)
	}
	// --run selects cases by name.
	rep, err = RunTestFiles(context.Background(), []string{"testdata/failing_test.yaml"}, TestOptions{Run: regexp.MustCompile("^pass"), NewSegmenter: testSeg})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 1 || rep.Failed != 0 || len(rep.Results) != 1 {
		t.Errorf("with --run: passed %d failed %d", rep.Passed, rep.Failed)
	}
}

func TestClassify(t *testing.T) {
	e := testEngine(t, nil, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		post      model.Post
		lead      string
		assist    []string
		districts []string
		by        string
		triage    string // reason prefix; "" means not triaged
		priority  model.Priority
	}{
		{name: "urgent with sla", post: model.Post{Text: "阳湖花园楼道煤气味很重"}, lead: "gas", assist: []string{"fire"}, districts: []string{"340504"}, by: "place", priority: model.PriorityUrgent},
		{name: "none word blocks", post: model.Post{Text: "东方城二区楼顶广告牌强光太亮，招租"}, by: "place", districts: []string{"340503"}, triage: ReasonNoRoute, priority: model.PriorityNormal},
		{name: "regex needed", post: model.Post{Text: "东方城二区白天有噪音"}, by: "place", districts: []string{"340503"}, triage: ReasonNoRoute, priority: model.PriorityNormal},
		{name: "regex matches", post: model.Post{Text: "东方城二区凌晨有噪音"}, lead: "sthjj", by: "place", districts: []string{"340503"}, priority: model.PriorityNormal},
		{name: "district named", post: model.Post{Text: "当涂县某小区路灯坏了"}, lead: "dt.gov", by: "place", districts: []string{"340521"}, priority: model.PriorityNormal},
		{name: "region hint", post: model.Post{Text: "小区路灯坏了", Region: "安徽 马鞍山 博望区"}, lead: "bw.gov", by: "region", districts: []string{"340506"}, priority: model.PriorityNormal},
		{name: "unknown district, symbolic lead", post: model.Post{Text: "小区路灯坏了"}, by: "none", triage: ReasonDistrictUnknown, priority: model.PriorityNormal},
		{name: "unknown district, city lead", post: model.Post{Text: "煤气味很重"}, lead: "gas", assist: []string{"fire"}, by: "none", triage: ReasonDistrictUnknown, priority: model.PriorityUrgent},
		{name: "empty", post: model.Post{Text: "  \n\t "}, triage: ReasonEmpty, priority: model.PriorityNormal},
		{name: "invalid utf-8", post: model.Post{Text: "阳湖花园路灯\xff\xfe坏了"}, lead: "ys.gov", by: "place", districts: []string{"340504"}, triage: ReasonInvalidUTF8, priority: model.PriorityNormal},
		{name: "huge", post: model.Post{Text: "阳湖花园路灯坏了" + strings.Repeat("很", MaxTextBytes)}, lead: "ys.gov", by: "place", districts: []string{"340504"}, triage: ReasonTooLong, priority: model.PriorityNormal},
		{name: "html-free emoji and control chars", post: model.Post{Text: "阳湖花园\u0000路灯😡坏了\u200b"}, lead: "ys.gov", by: "place", districts: []string{"340504"}, priority: model.PriorityNormal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.post.Channel = model.ChannelWeibo
			d := e.Classify(ctx, tc.post)
			lead := ""
			if d.Lead != nil {
				lead = d.Lead.ID
			}
			if lead != tc.lead {
				t.Errorf("lead = %q, want %q (routes %v)", lead, tc.lead, d.Explanation.Routes)
			}
			if !slices.Equal(ids(d.Assist), tc.assist) {
				t.Errorf("assist = %v, want %v", ids(d.Assist), tc.assist)
			}
			var codes []string
			for _, dist := range d.Districts {
				codes = append(codes, dist.Code)
			}
			if !slices.Equal(codes, tc.districts) {
				t.Errorf("districts = %v, want %v", codes, tc.districts)
			}
			if tc.by != "" && d.Explanation.DistrictBy != tc.by {
				t.Errorf("district by %q, want %q", d.Explanation.DistrictBy, tc.by)
			}
			if (tc.triage != "") != d.Triage || !strings.HasPrefix(d.TriageReason, tc.triage) {
				t.Errorf("triage = %v %q, want reason %q", d.Triage, d.TriageReason, tc.triage)
			}
			if d.Priority != tc.priority {
				t.Errorf("priority = %q, want %q", d.Priority, tc.priority)
			}
			if d.RuleSetVersion != e.Tree().Version || d.RuleSetVersion == "" {
				t.Errorf("rule set version = %q", d.RuleSetVersion)
			}
			if d.AckTemplate != "您反映的问题已转交{{.Lead}}，编号{{.CaseNo}}" {
				t.Errorf("ack template = %q, want the weibo one", d.AckTemplate)
			}
		})
	}
}

func TestDecisionDetails(t *testing.T) {
	e := testEngine(t, nil, nil)
	d := e.Classify(context.Background(), model.Post{Channel: model.ChannelWeChat, Text: "阳湖花园楼道煤气味很重"})
	if d.SLA == nil || d.SLA.Claim != model.Duration(3600e9) || d.SLA.Reply != model.Duration(4*3600e9) {
		t.Errorf("sla = %+v", d.SLA)
	}
	if d.AckTemplate != "编号{{.CaseNo}}" {
		t.Errorf("wechat ack = %q, want the default", d.AckTemplate)
	}
	if d.Confidence != 1 || d.Category != "gas" {
		t.Errorf("confidence %v category %q", d.Confidence, d.Category)
	}
	if len(d.Tokens) == 0 || !slices.Contains(d.Tokens, "阳湖花园") {
		t.Errorf("tokens = %v, want the place kept whole", d.Tokens)
	}
	if len(d.Explanation.Routes) != 1 || d.Explanation.Routes[0].Name != "燃气泄漏" || !slices.Equal(d.Explanation.Routes[0].Words, []string{"煤气味"}) {
		t.Errorf("explanation routes = %+v", d.Explanation.Routes)
	}
	if len(d.Explanation.Places) == 0 || d.Explanation.Places[0].Text != "阳湖花园" {
		t.Errorf("places = %+v", d.Explanation.Places)
	}
	// Decisions never share a route's SLA.
	d.SLA.Claim = 0
	d2 := e.Classify(context.Background(), model.Post{Text: "阳湖花园楼道煤气味很重"})
	if d2.SLA.Claim == 0 {
		t.Error("decisions share the route's SLA value")
	}
}

func TestModelFallback(t *testing.T) {
	fm := fakeModel{
		"垃圾": pred("城乡建设", 0.9),
		"排污": pred("环境保护", 0.95),
		"不清": pred("城乡建设", 0.3),
		"奇怪": pred("外星人", 0.99),
		"路灯": pred("环境保护", 0.97),
	}
	withModel := func(override float64, certain bool) func(*rules.RuleSet) {
		return func(rs *rules.RuleSet) {
			rs.Model = &rules.ModelRef{File: "fake", Threshold: 0.6, Override: override}
			for i := range rs.Routes {
				rs.Routes[i].Certain = certain
			}
		}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		override float64
		certain  bool // every route marked certain
		text     string
		lead     string
		category string
		by       string
		triage   string
	}{
		{name: "confident model decides", text: "阳湖花园门口垃圾没人收", lead: "cgj", category: "urban", by: "model"},
		{name: "label mapped by category name", text: "阳湖花园附近工厂排污", lead: "sthjj", category: "environment", by: "model"},
		{name: "low confidence goes to triage", text: "阳湖花园说不清的问题", lead: "cgj", category: "urban", by: "人工分拣", triage: ReasonLowConfidence},
		{name: "unmapped label is the fallback", text: "阳湖花园奇怪的事", category: "unsorted", by: "人工分拣", triage: ReasonNoRoute},
		{name: "route wins without override", text: "阳湖花园路灯坏了", lead: "ys.gov", category: "light", by: "路灯"},
		{name: "confident model overrules another group", override: 0.9, text: "阳湖花园路灯坏了", lead: "sthjj", category: "environment", by: "model"},
		{name: "certain route is never overruled", override: 0.9, certain: true, text: "阳湖花园路灯坏了", lead: "ys.gov", category: "light", by: "路灯"},
		{name: "same group keeps the route", override: 0.5, text: "阳湖花园门口路灯和垃圾", lead: "ys.gov", category: "light", by: "路灯"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testEngine(t, fm, withModel(tc.override, tc.certain))
			d := e.Classify(ctx, model.Post{Text: tc.text})
			lead := ""
			if d.Lead != nil {
				lead = d.Lead.ID
			}
			if lead != tc.lead || d.Category != tc.category {
				t.Errorf("lead %q category %q, want %q %q", lead, d.Category, tc.lead, tc.category)
			}
			if tc.by == "model" && (len(d.Explanation.Routes) > 0 || len(d.Explanation.Words) > 0) {
				t.Errorf("model decided but the explanation names routes %v, words %v", d.Explanation.Routes, d.Explanation.Words)
			}
			if by := DecidedBy(d, "人工分拣"); by != tc.by {
				t.Errorf("decided by %q, want %q", by, tc.by)
			}
			if (tc.triage != "") != d.Triage || !strings.HasPrefix(d.TriageReason, tc.triage) {
				t.Errorf("triage %v %q, want %q", d.Triage, d.TriageReason, tc.triage)
			}
			// The model is consulted when no route matched or when it may overrule one.
			consulted := len(d.Explanation.Routes) == 0 || (tc.override > 0 && !tc.certain)
			if (d.Explanation.Model != nil) != consulted || d.ModelVersion != "fake:1" {
				t.Errorf("model explanation %+v version %q, consulted want %v", d.Explanation.Model, d.ModelVersion, consulted)
			}
		})
	}
}

// TestPlaceWordsNeverSplit: 印山东路 is a road; the rule word 山东 must not
// be found inside it, though it is found on its own.
func TestPlaceWordsNeverSplit(t *testing.T) {
	e := testEngine(t, nil, nil)
	for text, want := range map[string]bool{
		"印山东路附近有人乱扔东西":  false,
		"山东来的朋友说印山东路很脏": true,
	} {
		d := e.Classify(context.Background(), model.Post{Text: text})
		got := len(d.Explanation.Routes) > 0 && d.Explanation.Routes[0].Name == "山东"
		if got != want {
			t.Errorf("%s: route 山东 matched = %v, want %v (tokens %v)", text, got, want, d.Tokens)
		}
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := readFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
