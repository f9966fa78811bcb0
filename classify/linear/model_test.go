package linear

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fieldsCutter stands in for gse in unit tests: the synthetic messages are
// written with spaces between words.
type fieldsCutter struct{}

func (fieldsCutter) Cut(text string) []string { return strings.Fields(text) }

// synthetic makes n messages per subject: each mixes two of its subject's
// words with two shared filler words, so only the subject words separate
// the classes.
func synthetic(n int) []Example {
	subjects := []struct {
		label string
		words []string
	}{
		{"路灯", []string{"路灯", "不亮", "照明", "灯杆", "黑灯瞎火"}},
		{"噪音", []string{"噪音", "扰民", "施工", "半夜", "广场舞"}},
		{"垃圾", []string{"垃圾", "堆放", "清运", "臭味", "垃圾桶"}},
	}
	filler := []string{"小区", "门口", "希望", "尽快", "处理", "市民", "反映", "附近"}
	var out []Example
	for i := range n {
		for s, sub := range subjects {
			w1 := sub.words[(i+s)%len(sub.words)]
			w2 := sub.words[(i*3+1)%len(sub.words)]
			f1 := filler[(i+2*s)%len(filler)]
			f2 := filler[(i*5+s+3)%len(filler)]
			out = append(out, Example{Text: fmt.Sprintf("%s %s %s %s", f1, w1, f2, w2), Label: sub.label})
		}
	}
	return out
}

func trainSynthetic(t testing.TB, loss Loss) *Model {
	t.Helper()
	opts := DefaultTrainOptions()
	opts.Loss = loss
	opts.Segmenter = fieldsCutter{}
	opts.Features.MinDF = 1
	m, err := Train(synthetic(12), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTrainLearnsSeparableClasses(t *testing.T) {
	probes := []struct{ text, want string }{
		{"希望 路灯 尽快 修好", "路灯"},
		{"晚上 照明 太差 灯杆 倒了", "路灯"},
		{"半夜 施工 噪音 很大", "噪音"},
		{"广场舞 扰民", "噪音"},
		{"垃圾桶 满了 没人 清运", "垃圾"},
		{"门口 臭味 垃圾 堆放", "垃圾"},
	}
	for _, loss := range []Loss{LossSVM, LossLogistic} {
		t.Run(string(loss), func(t *testing.T) {
			m := trainSynthetic(t, loss)
			if got := m.Labels(); !slices.Equal(got, []string{"噪音", "垃圾", "路灯"}) {
				t.Fatalf("labels = %v", got)
			}
			for _, p := range probes {
				got := m.PredictText(fieldsCutter{}, p.text)
				if got.Label != p.want {
					t.Errorf("%q: got %q (%.2f), want %q; scores %+v", p.text, got.Label, got.Confidence, p.want, got.Scores)
				}
				if got.Confidence <= 1.0/3 || got.Confidence > 1 {
					t.Errorf("%q: confidence %v not above chance", p.text, got.Confidence)
				}
				var sum float64
				for i, s := range got.Scores {
					sum += s.Prob
					if i > 0 && s.Prob > got.Scores[i-1].Prob {
						t.Errorf("%q: scores not sorted: %+v", p.text, got.Scores)
					}
				}
				if !near(sum, 1) && (sum < 0.999999 || sum > 1.000001) {
					t.Errorf("%q: probabilities sum to %v", p.text, sum)
				}
				if got.Scores[0].Label != got.Label || got.Known == 0 {
					t.Errorf("%q: inconsistent prediction %+v", p.text, got)
				}
			}
			// A message with no known term scores by the bias alone and says so.
			if p := m.PredictText(fieldsCutter{}, "zzz qqq"); p.Known != 0 || p.Confidence > 0.9 {
				t.Errorf("unknown message: %+v", p)
			}
		})
	}
}

func TestCalibrationChangesConfidenceNotLabels(t *testing.T) {
	data := synthetic(20)
	for i := 0; i < len(data); i += 7 { // some label noise, so that held-out scores are not all perfect
		data[i].Label = data[(i+1)%len(data)].Label
	}
	opts := DefaultTrainOptions()
	opts.Segmenter = fieldsCutter{}
	opts.Features.MinDF = 1
	cal, err := Train(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Calibrate = false
	raw, err := Train(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	if raw.scale != 1 || cal.scale == 1 || cal.scale <= 0 {
		t.Fatalf("scales: calibrated %v, uncalibrated %v", cal.scale, raw.scale)
	}
	if cal.Version() == raw.Version() {
		t.Error("calibrated and uncalibrated models share a version")
	}
	differ := false
	for _, ex := range synthetic(5) {
		a, b := cal.PredictText(fieldsCutter{}, ex.Text), raw.PredictText(fieldsCutter{}, ex.Text)
		if a.Label != b.Label {
			t.Errorf("%q: calibrated %s, uncalibrated %s", ex.Text, a.Label, b.Label)
		}
		differ = differ || a.Confidence != b.Confidence
	}
	if !differ {
		t.Error("calibration changed no confidence")
	}
}

func TestTrainIsDeterministicAndVersionFollowsContent(t *testing.T) {
	a := trainSynthetic(t, LossSVM)
	b := trainSynthetic(t, LossSVM)
	if a.Version() != b.Version() || !strings.HasPrefix(a.Version(), "sha256:") || len(a.Version()) != len("sha256:")+16 {
		t.Fatalf("versions %q and %q, want equal sha256:<16 hex>", a.Version(), b.Version())
	}
	var ba, bb bytes.Buffer
	if err := a.Save(&ba); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(&bb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Fatal("two trainings on the same data wrote different files")
	}

	opts := DefaultTrainOptions()
	opts.Segmenter = fieldsCutter{}
	opts.Features.MinDF = 1
	data := synthetic(12)
	data[0].Label = "噪音" // one label changed
	c, err := Train(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.C = 3
	d, err := Train(synthetic(12), opts)
	if err != nil {
		t.Fatal(err)
	}
	if l := trainSynthetic(t, LossLogistic); l.Version() == a.Version() {
		t.Error("logistic and svm models share a version")
	}
	if c.Version() == a.Version() || d.Version() == a.Version() || c.Version() == d.Version() {
		t.Fatalf("versions do not follow content: %s %s %s", a.Version(), c.Version(), d.Version())
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, loss := range []Loss{LossSVM, LossLogistic} {
		t.Run(string(loss), func(t *testing.T) {
			m := trainSynthetic(t, loss)
			var buf bytes.Buffer
			if err := m.Save(&buf); err != nil {
				t.Fatal(err)
			}
			got, err := Load(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if got.Version() != m.Version() || !slices.Equal(got.Labels(), m.Labels()) || got.Features() != m.Features() || got.NumFeatures() != m.NumFeatures() {
				t.Fatalf("loaded model differs: %s %v vs %s %v", got.Version(), got.Labels(), m.Version(), m.Labels())
			}
			for _, ex := range synthetic(20) {
				p1 := m.PredictText(fieldsCutter{}, ex.Text)
				p2 := got.PredictText(fieldsCutter{}, ex.Text)
				if !slices.Equal(p1.Scores, p2.Scores) || p1.Label != p2.Label || p1.Confidence != p2.Confidence {
					t.Fatalf("%q: %+v after load, %+v before", ex.Text, p2, p1)
				}
			}
		})
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	m := trainSynthetic(t, LossSVM)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	headLen := len(fileMagic) + 4 + 32
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	// rewrap builds a file whose checksum matches a doctored body, to reach
	// the structural checks behind the checksum.
	rewrap := func(body []byte) []byte {
		var out bytes.Buffer
		out.WriteString(fileMagic)
		out.Write(binary.BigEndian.AppendUint32(nil, formatVersion))
		sum := sha256.Sum256(body)
		out.Write(sum[:])
		zw := gzip.NewWriter(&out)
		zw.Write(body)
		zw.Close()
		return out.Bytes()
	}
	body := encodeBody(m)
	tests := []struct {
		name    string
		data    []byte
		want    string
		notModl bool
	}{
		{"empty", nil, "not a mashangban model file: too short", true},
		{"short", []byte("MSB"), "too short", true},
		{"other file", []byte(strings.Repeat("{\"text\":1}\n", 10)), "not a mashangban model file: bad magic", true},
		{"future format", mutate(func(b []byte) []byte { b[len(fileMagic)+3] = 9; return b }), "unsupported model format version 9 (this build reads 1)", false},
		{"checksum", mutate(func(b []byte) []byte { b[len(fileMagic)+4] ^= 0xff; return b }), "model file corrupt: checksum mismatch", false},
		{"truncated", good[:headLen+(len(good)-headLen)/2], "model file corrupt", false},
		{"not gzip", mutate(func(b []byte) []byte { return append(b[:headLen], "plain"...) }), "model file corrupt", false},
		{"body cut short", rewrap(body[:len(body)-4]), "model file corrupt: body is", false},
		{"bad header json", rewrap(append([]byte{3, 0, 0, 0}, "{x}"...)), "model file corrupt: header", false},
		{"header length past end", rewrap([]byte{0xff, 0xff, 0, 0, '{'}), "model file corrupt: truncated header", false},
		{"duplicate labels", rewrap(withHeader(t, body, func(h *fileHeader) { h.Labels[1] = h.Labels[0] })), "labels not unique", false},
		{"zero scale", rewrap(withHeader(t, body, func(h *fileHeader) { h.Scale = 0 })), "bad confidence scale 0", false},
		{"unknown loss", rewrap(withHeader(t, body, func(h *fileHeader) { h.Loss = "tree" })), `unknown loss "tree"`, false},
		{"bad features", rewrap(withHeader(t, body, func(h *fileHeader) { h.Features.MinDF = 0 })), "min document frequency", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if errors.Is(err, ErrNotModel) != tt.notModl {
				t.Fatalf("errors.Is(err, ErrNotModel) = %v, want %v", !tt.notModl, tt.notModl)
			}
		})
	}
}

// withHeader returns body with its JSON header changed by edit.
func withHeader(t *testing.T, body []byte, edit func(*fileHeader)) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint32(body)
	var h fileHeader
	if err := json.Unmarshal(body[4:4+n], &h); err != nil {
		t.Fatal(err)
	}
	edit(&h)
	hdr, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(hdr)))
	out = append(out, hdr...)
	return append(out, body[4+n:]...)
}

func TestTrainRejectsBadInput(t *testing.T) {
	two := []Example{{Text: "路灯 坏了", Label: "a"}, {Text: "噪音 扰民", Label: "b"}}
	base := DefaultTrainOptions()
	base.Segmenter = fieldsCutter{}
	base.Features.MinDF = 1
	tests := []struct {
		name string
		ex   []Example
		opt  func(o *TrainOptions)
		want string
	}{
		{"no examples", nil, nil, "no training examples"},
		{"one label", []Example{{Text: "x", Label: "a"}, {Text: "y", Label: "a"}}, nil, "need at least 2 labels, got 1"},
		{"unlabelled", []Example{{Text: "x", Label: "a"}, {Text: "y"}}, nil, "example 1 has no label"},
		{"no segmenter", two, func(o *TrainOptions) { o.Segmenter = nil }, "word features need a segmenter"},
		{"no features", two, func(o *TrainOptions) { o.Features.Words, o.Features.CharMax = false, 0 }, "no features"},
		{"bad ngram range", two, func(o *TrainOptions) { o.Features.CharMin = 3; o.Features.CharMax = 2 }, "bad character n-gram range 3..2"},
		{"bad min df", two, func(o *TrainOptions) { o.Features.MinDF = 0 }, "min document frequency must be at least 1"},
		{"vocabulary empty", two, func(o *TrainOptions) { o.Features.MinDF = 5 }, "empty vocabulary"},
		{"bad C", two, func(o *TrainOptions) { o.C = 0 }, "svm cost C must be positive"},
		{"bad loss", two, func(o *TrainOptions) { o.Loss = "hinge" }, `unknown loss "hinge"`},
		{"bad epochs", two, func(o *TrainOptions) { o.Loss = LossLogistic; o.Epochs = 0 }, "bad logistic options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			if tt.opt != nil {
				tt.opt(&o)
			}
			_, err := Train(tt.ex, o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCharacterFeatures(t *testing.T) {
	// Full-width letters and digits fold to ASCII and case folds, so "ＡＢ１"
	// and "ab1" are the same terms; punctuation separates runs.
	e := &extractor{opt: FeatureOptions{CharMin: 1, CharMax: 2}}
	a := e.counts(nil, "ＡＢ１")
	b := e.counts(nil, "ab1")
	if !slices.Equal(a.hash, b.hash) || !slices.Equal(a.n, b.n) {
		t.Fatal("full-width and ASCII forms give different terms")
	}
	// 3 unigrams + 2 bigrams; "路灯，路灯" has 2 runs: unigrams 路×2 灯×2, bigram 路灯×2, none across the comma.
	if len(b.hash) != 5 {
		t.Errorf("ab1 has %d distinct 1-2 grams, want 5", len(b.hash))
	}
	c := e.counts(nil, "路灯，路灯")
	if len(c.hash) != 3 || !slices.Equal(c.n, []int32{2, 2, 2}) {
		t.Errorf("路灯，路灯: %d distinct terms with counts %v, want 3 terms twice each", len(c.hash), c.n)
	}
	// A word and the character bigram of the same text are different features.
	w := &extractor{opt: FeatureOptions{Words: true, CharMin: 2, CharMax: 2}}
	if got := w.counts([]string{"路灯", "，"}, "路灯"); len(got.hash) != 2 {
		t.Errorf("word and bigram 路灯 collapsed: %d terms, want 2", len(got.hash))
	}
	d := &extractor{opt: FeatureOptions{CharMin: 1, CharMax: 3, FoldDigits: true}}
	if x, y := d.counts(nil, "3号楼"), d.counts(nil, "5号楼"); !slices.Equal(x.hash, y.hash) {
		t.Error("digit folding did not merge 3号楼 and 5号楼")
	}
}

func TestCrossValidateAndHoldout(t *testing.T) {
	exs := Tokenize(fieldsCutter{}, synthetic(10))
	opts := DefaultTrainOptions()
	opts.Features.MinDF = 1
	m, err := CrossValidate(exs, opts, 5)
	if err != nil {
		t.Fatal(err)
	}
	if m.N != len(exs) || m.MacroF1 < 0.9 {
		t.Fatalf("cross-validation over %d: n %d macro-F1 %.3f", len(exs), m.N, m.MacroF1)
	}
	if _, err := CrossValidate(exs, opts, 1); err == nil {
		t.Error("1 fold accepted")
	}
	train, held, err := SplitHoldout(exs, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(train)+len(held) != len(exs) || len(held) != 6 {
		t.Fatalf("holdout 0.2 of %d: %d + %d", len(exs), len(train), len(held))
	}
	perLabel := map[string]int{}
	for _, ex := range held {
		perLabel[ex.Label]++
	}
	for l, n := range perLabel {
		if n != 2 {
			t.Errorf("holdout not stratified: %s has %d", l, n)
		}
	}
	if _, _, err := SplitHoldout(exs, 1.5, 1); err == nil {
		t.Error("holdout 1.5 accepted")
	}
}

func FuzzLoad(f *testing.F) {
	m := trainSynthetic(f, LossSVM)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(fileMagic + "\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		m.Predict([]string{"路灯"}, "路灯不亮")
	})
}

func BenchmarkTrainSynthetic(b *testing.B) {
	exs := Tokenize(fieldsCutter{}, synthetic(200))
	opts := DefaultTrainOptions()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := TrainTokenized(exs, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPredictConcurrently(t *testing.T) {
	m := trainSynthetic(t, LossSVM)
	exs := synthetic(8)
	want := make([]Prediction, len(exs))
	for i, ex := range exs {
		want[i] = m.PredictText(fieldsCutter{}, ex.Text)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i, ex := range exs {
				if got := m.PredictText(fieldsCutter{}, ex.Text); !slices.Equal(got.Scores, want[i].Scores) {
					t.Errorf("%q: concurrent prediction %+v, want %+v", ex.Text, got, want[i])
				}
			}
		})
	}
	wg.Wait()
}

func TestPredictionVectorMatchesTrainingVector(t *testing.T) {
	m := trainSynthetic(t, LossSVM)
	e := &extractor{opt: m.feat}
	for _, text := range []string{"希望 路灯 尽快 修好 路灯", "", "zzz", "门口 臭味 垃圾 堆放，垃圾 垃圾桶 Ａ1 a1"} {
		tokens := strings.Fields(text)
		a := vectorise(m.feat, m.vocab, m.idf, e.counts(tokens, text))
		b := e.vectoriseKnown(m.vocab, m.idf, tokens, text)
		if !slices.Equal(a.idx, b.idx) || !slices.Equal(a.val, b.val) {
			t.Errorf("%q: training vector %v %v, prediction vector %v %v", text, a.idx, a.val, b.idx, b.val)
		}
	}
}

func TestTrainInfoTravelsWithTheFile(t *testing.T) {
	m := trainSynthetic(t, LossSVM)
	if m.Trained() != nil {
		t.Fatalf("a freshly trained model has a record before one is given: %+v", m.Trained())
	}
	at := time.Date(2026, 12, 2, 14, 30, 15, 999, time.FixedZone("CST", 8*3600))
	info := TrainInfo{At: at, Label: "department", Examples: 412, Sources: []string{"store: 400 cases", "extra.jsonl: 12"}}
	withInfo := m.WithTrainInfo(info)
	if withInfo.Version() == m.Version() {
		t.Errorf("version %s did not change with the training record", m.Version())
	}
	if m.Trained() != nil {
		t.Error("WithTrainInfo changed the original model")
	}
	var buf bytes.Buffer
	if err := withInfo.Save(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Version() != withInfo.Version() {
		t.Errorf("loaded version %s, saved %s", got.Version(), withInfo.Version())
	}
	tr := got.Trained()
	if tr == nil {
		t.Fatal("training record lost in the file")
	}
	if !tr.At.Equal(at.Truncate(time.Second)) || tr.Label != "department" || tr.Examples != 412 || !slices.Equal(tr.Sources, info.Sources) {
		t.Errorf("record %+v, want %+v (time to the second)", *tr, info)
	}
	// The predictions are the same model's.
	for _, ex := range synthetic(20) {
		toks := fieldsCutter{}.Cut(ex.Text)
		if a, b := m.Predict(toks, ex.Text), got.Predict(toks, ex.Text); a.Label != b.Label || a.Confidence != b.Confidence {
			t.Fatalf("prediction changed with the record: %+v vs %+v", a, b)
		}
	}
}
