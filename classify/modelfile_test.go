package classify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	linear "github.com/mashangban/mashangban/classify/linear"
	"github.com/mashangban/mashangban/model"
)

// TestModelFile trains a small model with classify/linear, names it in a
// rule set and checks that the engine loads it and uses it for posts no
// route matches, with the label mapping of the rules.
func TestModelFile(t *testing.T) {
	dir := t.TempDir()
	var examples []linear.Example
	for _, s := range []struct{ label, text string }{
		{"城乡建设", "垃圾没人清运 垃圾桶满了 建筑垃圾乱倒 垃圾堆在路边"},
		{"环境保护", "工厂排放废气 河水发黑发臭 粉尘污染严重 油烟直排"},
	} {
		ws := strings.Fields(s.text)
		for i := range 30 {
			examples = append(examples, linear.Example{Text: "市民反映" + ws[i%len(ws)] + "，而且" + ws[(i+1)%len(ws)] + "，希望处理", Label: s.label})
		}
	}
	seg, err := testSeg(nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := linear.DefaultTrainOptions()
	opts.Segmenter = seg
	m, err := linear.Train(examples, opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "model.msbm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rules := strings.Replace(reloadRules, "%s", "cgj", 1) + `categories:
  - {id: env, name: 环境保护, lead: sthjj}
model:
  file: model.msbm
  threshold: 0.01
  labels:
    城乡建设: {lead: cgj}
`
	writeFile(t, filepath.Join(dir, "rules.yaml"), []byte(rules))

	e, err := Build(context.Background(), Options{RulesDir: dir, NewSegmenter: testSeg})
	if err != nil {
		t.Fatal(err)
	}
	if e.ModelVersion() != m.Version() {
		t.Errorf("model version %q, want %q", e.ModelVersion(), m.Version())
	}
	for text, lead := range map[string]string{"河水发黑发臭，还有粉尘": "sthjj", "垃圾桶满了没人清运": "cgj"} {
		d := e.Classify(context.Background(), model.Post{Text: text})
		if d.Lead == nil || d.Lead.ID != lead || d.Explanation.Model == nil || d.Explanation.Fallback {
			t.Errorf("%s: lead %+v, model %+v, fallback %v; want %s by the model", text, d.Lead, d.Explanation.Model, d.Explanation.Fallback, lead)
		}
	}

	// A missing or damaged model file is a load error, not a silent rules-only set.
	writeFile(t, filepath.Join(dir, "model.msbm"), []byte("not a model"))
	if _, err := Build(context.Background(), Options{RulesDir: dir, NewSegmenter: testSeg}); err == nil || !strings.Contains(err.Error(), "model") {
		t.Errorf("damaged model: %v", err)
	}
	// NoModel (rules test) ignores it.
	if _, err := Build(context.Background(), Options{RulesDir: dir, NoModel: true, NewSegmenter: testSeg}); err != nil {
		t.Errorf("NoModel: %v", err)
	}
}
