// Package linear is mashangban's learned fallback: a linear text classifier
// over gse words and character n-grams, trained from labelled history
// (JSON Lines of messages with a category or department), saved as a
// versioned file, and asked for a label with a confidence when no routing
// rule settles a post. It also holds the evaluation helpers (accuracy,
// macro-F1, confusion matrix) used by `mashangban train` and `mashangban eval`.
//
// It is not for routing: turning a label into departments and deciding
// whether the confidence is enough is classify's job.
package linear

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// Cutter cuts text into words; *segment.Segmenter is one.
type Cutter interface {
	Cut(text string) []string
}

// Model is a trained classifier. It is immutable and safe for concurrent use.
type Model struct {
	labels []string
	feat   FeatureOptions
	loss   Loss
	terms  []uint64 // term hashes, ascending
	vocab  map[uint64]int32
	idf    []float32
	// w holds the weights feature-major: w[f*K+k] is feature f's weight
	// for label k, with the bias as feature len(terms), so that scoring a
	// sparse vector reads K contiguous floats per feature.
	w []float32
	// scale multiplies the scores before the softmax that gives the
	// confidence (1 for the logistic loss, fitted for the SVM).
	scale   float32
	version string
	trained *TrainInfo
}

// TrainInfo records how a model was trained: when, on how many examples,
// with which label, and from where (files, the store's cases). It is kept
// in the model file and shown by the daemon next to the model's version.
type TrainInfo struct {
	At       time.Time `json:"at"`
	Label    string    `json:"label"`
	Examples int       `json:"examples"`
	// Sources says where the examples came from, one entry per source
	// with its count, e.g. "store: 412 cases routed or transferred by hand".
	Sources []string `json:"sources,omitempty"`
}

// Trained returns the model's training record, nil for a file that has
// none.
func (m *Model) Trained() *TrainInfo {
	if m.trained == nil {
		return nil
	}
	t := *m.trained
	t.Sources = slices.Clone(t.Sources)
	return &t
}

// WithTrainInfo returns a copy of the model that carries the training
// record (and so a new Version).
func (m *Model) WithTrainInfo(t TrainInfo) *Model {
	c := *m
	t.Sources = slices.Clone(t.Sources)
	t.At = t.At.UTC().Truncate(time.Second)
	c.trained = &t
	c.version = contentVersion(&c)
	return &c
}

// Labels returns the model's labels in its internal (sorted) order.
func (m *Model) Labels() []string { return slices.Clone(m.labels) }

// Version is a hash of the model's content, "sha256:" and 16 hex digits;
// two files with the same version give the same predictions.
func (m *Model) Version() string { return m.version }

// Features returns the feature options the model was trained with.
func (m *Model) Features() FeatureOptions { return m.feat }

// NumFeatures is the size of the vocabulary.
func (m *Model) NumFeatures() int { return len(m.terms) }

// Score is one label's standing in a prediction.
type Score struct {
	Label string  `json:"label"`
	Prob  float64 `json:"prob"`  // softmax probability
	Score float64 `json:"score"` // raw linear score
}

// Prediction is the model's answer for one message.
type Prediction struct {
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"` // probability of Label
	// Scores lists every label, most probable first.
	Scores []Score `json:"scores"`
	// Known is how many of the message's terms are in the vocabulary; 0
	// means the model knows nothing about the message.
	Known int `json:"known"`
}

// Predict classifies a message given its words (from the caller's
// segmenter, so the text is not cut twice) and its text (for the
// character n-grams).
func (m *Model) Predict(tokens []string, text string) Prediction {
	e := &extractor{opt: m.feat}
	x := e.vectoriseKnown(m.vocab, m.idf, tokens, text)
	K := len(m.labels)
	raw := make([]float64, K)
	m.scores(x, raw)
	probs := softmax(raw, float64(m.scale), make([]float64, K))
	p := Prediction{Scores: make([]Score, K), Known: len(x.idx) - 1}
	for k := range K {
		p.Scores[k] = Score{Label: m.labels[k], Prob: probs[k], Score: raw[k]}
	}
	sort.SliceStable(p.Scores, func(i, j int) bool { return p.Scores[i].Score > p.Scores[j].Score })
	p.Label, p.Confidence = p.Scores[0].Label, p.Scores[0].Prob
	return p
}

// PredictText cuts text with seg and classifies it.
func (m *Model) PredictText(seg Cutter, text string) Prediction {
	var tokens []string
	if m.feat.Words && seg != nil {
		tokens = seg.Cut(text)
	}
	return m.Predict(tokens, text)
}

func (m *Model) scores(x sparse, out []float64) {
	K := len(m.labels)
	clear(out)
	for i, f := range x.idx {
		v := float64(x.val[i])
		row := m.w[int(f)*K : int(f)*K+K]
		for k := range K {
			out[k] += v * float64(row[k])
		}
	}
}

// softmax writes the softmax of scale*s into out and returns it.
func softmax(s []float64, scale float64, out []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, scale*v)
	}
	var sum float64
	for k, v := range s {
		out[k] = math.Exp(scale*v - mx)
		sum += out[k]
	}
	for k := range out {
		out[k] /= sum
	}
	return out
}

// Loss is the training objective.
type Loss string

const (
	// LossLogistic is multinomial logistic regression (softmax) with L2,
	// trained by Adagrad; its probabilities are the confidence.
	LossLogistic Loss = "logistic"
	// LossSVM is a one-vs-rest linear SVM (squared hinge, L2) trained by
	// dual coordinate descent; the confidence is a softmax over its scores
	// with a scale fitted on held-out scores (TrainOptions.Calibrate).
	LossSVM Loss = "svm"
)

// TrainOptions configure Train. DefaultTrainOptions holds the values chosen
// by cross-validation.
type TrainOptions struct {
	Features FeatureOptions
	Loss     Loss
	// C is the SVM's cost (larger fits the training data harder).
	C float64
	// Lambda is the logistic loss's L2 strength; LearningRate and Epochs
	// drive its Adagrad.
	Lambda       float64
	LearningRate float64
	Epochs       int
	// Balanced weights each class by n/(K*n_class), so that small classes
	// count as much as large ones.
	Balanced bool
	// Calibrate fits the SVM's confidence scale on a held-out third of
	// the examples, at the cost of one more training on two thirds. Without
	// it the scale is 1. It changes confidences, never labels.
	Calibrate bool
	// Seed fixes the order in which examples are visited: the same data and
	// options always give the same model.
	Seed uint64
	// Segmenter cuts the examples that have no Tokens; needed when
	// Features.Words is on.
	Segmenter Cutter
}

// DefaultTrainOptions returns the configuration chosen by cross-validation.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{
		Features:     DefaultFeatureOptions(),
		Loss:         LossSVM,
		C:            4,
		Balanced:     true,
		Calibrate:    true,
		Lambda:       1e-5,
		LearningRate: 0.5,
		Epochs:       20,
		Seed:         1,
	}
}

// TokenizedExample is an Example whose words are already cut; see Tokenize.
type TokenizedExample struct {
	Example
	Tokens []string
}

// Tokenize cuts each example once so that several trainings (folds,
// option sweeps) can share the words. seg must be safe for concurrent use
// (*segment.Segmenter is): the examples are cut on GOMAXPROCS goroutines.
func Tokenize(seg Cutter, examples []Example) []TokenizedExample {
	out := make([]TokenizedExample, len(examples))
	parallelFor(len(examples), func() func(int) {
		return func(i int) { out[i] = TokenizedExample{Example: examples[i], Tokens: seg.Cut(examples[i].Text)} }
	})
	return out
}

// parallelFor calls the function made by worker for each i in [0, n), on
// GOMAXPROCS goroutines, each with its own worker function (and so its own
// scratch state).
func parallelFor(n int, worker func() func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), n)) {
		wg.Go(func() {
			fn := worker()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// Train fits a model to examples, cutting their words with opts.Segmenter.
func Train(examples []Example, opts TrainOptions) (*Model, error) {
	if opts.Features.Words && opts.Segmenter == nil {
		return nil, errors.New("word features need a segmenter")
	}
	if !opts.Features.Words {
		tok := make([]TokenizedExample, len(examples))
		for i, ex := range examples {
			tok[i].Example = ex
		}
		return TrainTokenized(tok, opts)
	}
	return TrainTokenized(Tokenize(opts.Segmenter, examples), opts)
}

// TrainTokenized is Train for examples whose words are already cut.
func TrainTokenized(examples []TokenizedExample, opts TrainOptions) (*Model, error) {
	if err := opts.Features.validate(); err != nil {
		return nil, err
	}
	if len(examples) == 0 {
		return nil, errors.New("no training examples")
	}
	labelSet := map[string]bool{}
	for i, ex := range examples {
		if ex.Label == "" {
			return nil, fmt.Errorf("example %d has no label", i)
		}
		labelSet[ex.Label] = true
	}
	if len(labelSet) < 2 {
		return nil, fmt.Errorf("need at least 2 labels, got %d", len(labelSet))
	}
	labels := make([]string, 0, len(labelSet))
	for l := range labelSet {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	labelIdx := make(map[string]int, len(labels))
	for i, l := range labels {
		labelIdx[l] = i
	}

	docs := make([]termCounts, len(examples))
	y := make([]int, len(examples))
	for i, ex := range examples {
		y[i] = labelIdx[ex.Label]
	}
	parallelFor(len(examples), func() func(int) {
		e := &extractor{opt: opts.Features}
		return func(i int) { docs[i] = e.counts(examples[i].Tokens, examples[i].Text) }
	})
	terms, vocab, idf := buildVocab(docs, opts.Features.MinDF)
	if len(terms) == 0 {
		return nil, errors.New("empty vocabulary: no term reaches the minimum document frequency")
	}
	X := make([]sparse, len(docs))
	parallelFor(len(docs), func() func(int) {
		return func(i int) { X[i] = vectorise(opts.Features, vocab, idf, docs[i]) }
	})
	m := &Model{labels: labels, feat: opts.Features, loss: opts.Loss, terms: terms, vocab: vocab, idf: idf, scale: 1}
	nf := len(terms) + 1
	cw := classWeights(y, len(labels), opts.Balanced)
	switch opts.Loss {
	case LossSVM:
		if opts.C <= 0 {
			return nil, fmt.Errorf("svm cost C must be positive, got %g", opts.C)
		}
		m.w = trainSVM(X, y, len(labels), nf, opts.C, cw, opts.Seed)
		if opts.Calibrate {
			m.scale = float32(calibrateSVM(X, y, len(labels), nf, opts))
		}
	case LossLogistic:
		if opts.Epochs < 1 || opts.LearningRate <= 0 || opts.Lambda < 0 {
			return nil, fmt.Errorf("bad logistic options: epochs %d, learning rate %g, lambda %g", opts.Epochs, opts.LearningRate, opts.Lambda)
		}
		m.w = trainLogistic(X, y, len(labels), nf, opts, cw)
	default:
		return nil, fmt.Errorf("unknown loss %q (want %q or %q)", opts.Loss, LossLogistic, LossSVM)
	}
	m.version = contentVersion(m)
	return m, nil
}

func classWeights(y []int, K int, balanced bool) []float64 {
	cw := make([]float64, K)
	for k := range cw {
		cw[k] = 1
	}
	if !balanced {
		return cw
	}
	n := make([]int, K)
	for _, c := range y {
		n[c]++
	}
	for k := range cw {
		if n[k] > 0 {
			cw[k] = float64(len(y)) / float64(K*n[k])
		}
	}
	return cw
}
