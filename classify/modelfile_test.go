package classify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestNewModelIsLoadedLikeARuleSet writes a model, serves it, then writes a
// newly trained one over it: a reload checks it and swaps it in, and the
// engine and the metrics show the new version and training record. A
// damaged file keeps the previous model serving.
func TestNewModelIsLoadedLikeARuleSet(t *testing.T) {
	dir := t.TempDir()
	seg, err := testSeg(nil)
	if err != nil {
		t.Fatal(err)
	}
	train := func(n int, at time.Time) *linear.Model {
		var examples []linear.Example
		for i := range n {
			examples = append(examples,
				linear.Example{Text: fmt.Sprintf("垃圾没人清运 第%d次", i), Label: "城乡建设"},
				linear.Example{Text: fmt.Sprintf("河水发黑发臭 第%d次", i), Label: "环境保护"})
		}
		opts := linear.DefaultTrainOptions()
		opts.Segmenter = seg
		m, err := linear.Train(examples, opts)
		if err != nil {
			t.Fatal(err)
		}
		return m.WithTrainInfo(linear.TrainInfo{At: at, Label: "category", Examples: len(examples), Sources: []string{"store: test"}})
	}
	save := func(m *linear.Model) {
		var b bytes.Buffer
		if err := m.Save(&b); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "model.msbm"), b.Bytes())
	}
	t1 := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	m1 := train(10, t1)
	save(m1)
	writeFile(t, filepath.Join(dir, "rules.yaml"), []byte(strings.Replace(reloadRules, "%s", "cgj", 1)+"model: {file: model.msbm, threshold: 0.01}\n"))
	f := openManager(t, dir)
	info := f.m.Engine().Model()
	if info == nil || info.Version != m1.Version() || info.Trained == nil || !info.Trained.At.Equal(t1) || info.Trained.Examples != 20 {
		t.Fatalf("model info %+v, want version %s trained at %s on 20", info, m1.Version(), t1)
	}
	if got := value(t, f.m.modelInfo.WithLabelValues(m1.Version())); got != 1 {
		t.Errorf("mashangban_model_info{version=%s} = %v", m1.Version(), got)
	}

	t2 := t1.Add(24 * time.Hour)
	m2 := train(15, t2)
	save(m2)
	if err := f.m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	info = f.m.Engine().Model()
	if info == nil || info.Version != m2.Version() || info.Trained.Examples != 30 {
		t.Fatalf("after reload: %+v, want %s on 30", info, m2.Version())
	}
	if got := value(t, f.m.modelTrained); got != float64(t2.Unix()) {
		t.Errorf("mashangban_model_trained_timestamp_seconds = %v, want %d", got, t2.Unix())
	}
	if got := value(t, f.m.modelExamples); got != 30 {
		t.Errorf("mashangban_model_training_examples = %v, want 30", got)
	}
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "mashangban_model_info" && len(mf.GetMetric()) != 1 {
			t.Errorf("mashangban_model_info has %d series, want only the serving model", len(mf.GetMetric()))
		}
	}

	writeFile(t, filepath.Join(dir, "model.msbm"), []byte("half a model"))
	if err := f.m.Reload(context.Background()); err == nil {
		t.Fatal("a damaged model file was accepted")
	}
	if info := f.m.Engine().Model(); info == nil || info.Version != m2.Version() {
		t.Errorf("after a damaged file the serving model is %+v, want %s kept", info, m2.Version())
	}
}
