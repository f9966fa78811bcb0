package classify

import (
	"bytes"
	"context"
	"flag"
	"os"
	"testing"

	"github.com/mashangban/mashangban/classify/segment"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/rules"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestExplainGolden(t *testing.T) {
	fm := fakeModel{"垃圾": pred("城乡建设", 0.91), "说不清": pred("环境保护", 0.42)}
	e := testEngine(t, fm, func(rs *rules.RuleSet) {
		rs.Model = &rules.ModelRef{File: "fake", Threshold: 0.6}
	})
	var buf bytes.Buffer
	for _, p := range []model.Post{
		{Channel: model.ChannelWeibo, Text: "东方城二区楼顶广告牌强光太亮，晚上还有噪音"},
		{Channel: model.ChannelWeChat, Text: "华山南路边上垃圾没人清理"},
		{Channel: model.ChannelWeibo, Text: "说不清是什么问题", Region: "安徽 马鞍山 和县"},
	} {
		d, tr := e.Explain(p)
		if err := WriteExplain(&buf, d, tr); err != nil {
			t.Fatal(err)
		}
		buf.WriteString("\n")
		// Explain and Classify decide alike.
		c := e.Classify(context.Background(), p)
		if c.TriageReason != d.TriageReason || c.Category != d.Category || len(c.Assist) != len(d.Assist) {
			t.Errorf("Explain and Classify differ on %q", p.Text)
		}
	}
	const golden = "testdata/explain.golden"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("explain output differs from %s (go test -run TestExplainGolden -update to accept):\n%s", golden, buf.String())
	}
}

// A typical post from the seed article.
const benchPost = "大厦楼顶安装的强光广告牌，距离马鞍山市花山区东方城二区16栋不足20米，一直亮到夜间近11点，周边居民的生活受到影响。"

// BenchmarkClassify is the whole classification of a typical post:
// segmentation, places, rules. Compare with BenchmarkSegmentOnly for the
// cost of everything but gse.
func BenchmarkClassify(b *testing.B) {
	e := testEngine(b, nil, nil)
	p := model.Post{Channel: model.ChannelWeibo, Text: benchPost}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e.Classify(ctx, p)
	}
}

// BenchmarkClassifyDefaultRules is BenchmarkClassify on the default rule
// set for 马鞍山 (36 routes, about 400 words).
func BenchmarkClassifyDefaultRules(b *testing.B) {
	e, err := Build(context.Background(), Options{RulesDir: "../rules/default", NewSegmenter: testSeg})
	if err != nil {
		b.Fatal(err)
	}
	p := model.Post{Channel: model.ChannelWeibo, Text: benchPost}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e.Classify(ctx, p)
	}
}

// BenchmarkSegmentOnly is gse's own segmentation of the same text.
func BenchmarkSegmentOnly(b *testing.B) {
	e := testEngine(b, nil, nil)
	seg := e.seg.(*segment.Segmenter)
	b.ReportAllocs()
	for b.Loop() {
		seg.Cut(benchPost)
	}
}

// BenchmarkRulesOnly is the rule matching alone, on already segmented text.
func BenchmarkRulesOnly(b *testing.B) {
	e := testEngine(b, nil, nil)
	text, _ := sanitize(benchPost)
	res := e.resolve(text, e.seg.Cut(text), nil, "")
	spans := placeSpans(text, res.Places)
	b.ReportAllocs()
	for b.Loop() {
		st := &matchState{text: text, found: make([]bool, len(e.tree.terms))}
		e.tree.findTerms(text, spans, st.found)
		for _, r := range e.tree.routes {
			if e.tree.evalRoute(r, st, false).matched && !r.cont {
				break
			}
		}
	}
}

// FuzzClassify: whatever the text, classification returns a decision
// (triage when in doubt) and never panics.
func FuzzClassify(f *testing.F) {
	e := testEngine(f, fakeModel{"垃圾": pred("城乡建设", 0.9)}, func(rs *rules.RuleSet) {
		rs.Model = &rules.ModelRef{File: "fake", Threshold: 0.6, Override: 0.8}
	})
	for _, s := range []string{benchPost, "", "\xff\xfe\xfd", "印山东路山东", "<p>路灯</p>", "华山南路垃圾", "😡😡😡", "\u0000\u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		d := e.Classify(context.Background(), model.Post{Text: text, Channel: model.ChannelWeibo})
		if d.RuleSetVersion == "" || d.Priority == "" {
			t.Fatalf("incomplete decision %+v", d)
		}
		if d.Lead == nil && !d.Triage {
			t.Fatalf("no lead and no triage for %q", text)
		}
		if d.Triage && d.TriageReason == "" {
			t.Fatalf("triage without reason for %q", text)
		}
	})
}

// BenchmarkBuildDefaultRules is the cost of a reload of the default rule
// set with the segmenter already built: load, validate, compile, gazetteer.
func BenchmarkBuildDefaultRules(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(ctx, Options{RulesDir: "../rules/default", NewSegmenter: testSeg}); err != nil {
			b.Fatal(err)
		}
	}
}
