package linear

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mashangban/mashangban/classify/segment"
)

// The teddy2020c labelled messages (train.jsonl, eval.jsonl) are read from
// the shared directory beside the repository, <repo root>/../shared/eval/
// teddy2020c; they carry no licence and are not copied into the repository.
// The tests that need them skip when it is absent.

// evalBar is the macro-F1 the model must reach on eval.jsonl after training
// on train.jsonl with DefaultTrainOptions.
const evalBar = 0.88

func teddyDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "eval", "teddy2020c")
	if _, err := os.Stat(filepath.Join(d, "train.jsonl")); err != nil {
		tb.Skipf("teddy2020c data not found at %s (the shared directory beside the repository); skipping", d)
	}
	return d
}

type teddyData struct {
	seg         *segment.Segmenter
	train, eval []TokenizedExample
}

var (
	teddyOnce sync.Once
	teddy     teddyData
	teddyErr  error
)

// loadTeddy reads and cuts both files once per test binary: gse is the
// slowest part of these tests.
func loadTeddy(tb testing.TB) teddyData {
	tb.Helper()
	dir := teddyDir(tb)
	teddyOnce.Do(func() {
		read := func(name string) []Example {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				teddyErr = err
				return nil
			}
			defer f.Close()
			exs, err := ReadLabelled(f, "category")
			if err != nil {
				teddyErr = err
			}
			return exs
		}
		tr, ev := read("train.jsonl"), read("eval.jsonl")
		if teddyErr != nil {
			return
		}
		if teddy.seg, teddyErr = segment.New(nil); teddyErr != nil {
			return
		}
		all := Tokenize(teddy.seg, append(slices.Clip(tr), ev...))
		teddy.train, teddy.eval = all[:len(tr)], all[len(tr):]
	})
	if teddyErr != nil {
		tb.Fatal(teddyErr)
	}
	return teddy
}

// evalOptions are the defaults without the confidence calibration, which
// costs another training (a slow one under -race) and changes
// confidences, never labels, so not the figure measured here.
func evalOptions() TrainOptions {
	o := DefaultTrainOptions()
	o.Calibrate = false
	return o
}

func TestTeddyEvalMacroF1(t *testing.T) {
	d := loadTeddy(t)
	start := time.Now()
	m, err := TrainTokenized(d.train, evalOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained on %d messages in %v: %d features, model %s", len(d.train), time.Since(start), m.NumFeatures(), m.Version())

	gold := make([]string, len(d.eval))
	pred := make([]string, len(d.eval))
	for i, ex := range d.eval {
		gold[i], pred[i] = ex.Label, m.Predict(ex.Tokens, ex.Text).Label
	}
	met := Evaluate(gold, pred)
	var report bytes.Buffer
	met.WriteText(&report)
	t.Logf("eval.jsonl:\n%s", report.String())
	if met.MacroF1 < evalBar {
		t.Errorf("macro-F1 on eval.jsonl %.4f, below the bar %.2f", met.MacroF1, evalBar)
	}

	// A saved and reloaded model of real size predicts the same.
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("model file %d bytes", buf.Len())
	loaded, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range d.eval[:50] {
		a, b := m.Predict(ex.Tokens, ex.Text), loaded.Predict(ex.Tokens, ex.Text)
		if a.Label != b.Label || a.Confidence != b.Confidence {
			t.Fatalf("reloaded model predicts %s %.4f, original %s %.4f", b.Label, b.Confidence, a.Label, a.Confidence)
		}
	}
}

func teddyModel(b *testing.B) (teddyData, *Model) {
	d := loadTeddy(b)
	m, err := TrainTokenized(d.train, DefaultTrainOptions())
	if err != nil {
		b.Fatal(err)
	}
	return d, m
}

// BenchmarkPredict classifies real messages whose words are already cut:
// the model's own cost on top of segmentation.
func BenchmarkPredict(b *testing.B) {
	d, m := teddyModel(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ex := d.eval[i%len(d.eval)]
		m.Predict(ex.Tokens, ex.Text)
		i++
	}
}

// BenchmarkPredictText includes gse's segmentation of the message.
func BenchmarkPredictText(b *testing.B) {
	d, m := teddyModel(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.PredictText(d.seg, d.eval[i%len(d.eval)].Text)
		i++
	}
}

// BenchmarkTrain trains on the 2,253 messages of train.jsonl (words cut).
func BenchmarkTrain(b *testing.B) {
	d := loadTeddy(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := TrainTokenized(d.train, DefaultTrainOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
