package classify

import (
	"fmt"
	"os"

	linear "github.com/mashangban/mashangban/classify/linear"
)

// ModelPredictor adapts a trained model from classify/linear to Predictor.
func ModelPredictor(m *linear.Model) Predictor { return modelPredictor{m} }

type modelPredictor struct{ m *linear.Model }

func (p modelPredictor) Version() string { return p.m.Version() }

func (p modelPredictor) Trained() *linear.TrainInfo { return p.m.Trained() }

func (p modelPredictor) Labels() []string { return p.m.Labels() }

func (p modelPredictor) Predict(tokens []string, text string) Prediction {
	pr := p.m.Predict(tokens, text)
	out := Prediction{Label: pr.Label, Confidence: pr.Confidence, Scores: make([]LabelScore, len(pr.Scores))}
	for i, s := range pr.Scores {
		out.Scores[i] = LabelScore{Label: s.Label, Prob: s.Prob}
	}
	return out
}

// LoadModel reads a model file written by `mashangban train`.
func LoadModel(path string) (Predictor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	m, err := linear.Load(f)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return ModelPredictor(m), nil
}

// ModelInfo describes the learned fallback an engine uses: its version,
// how it was trained, and the thresholds the rule set gives it.
type ModelInfo struct {
	Version   string            `json:"version"`
	Labels    []string          `json:"labels,omitempty"`
	Trained   *linear.TrainInfo `json:"trained,omitempty"`
	Threshold float64           `json:"threshold"`
	Override  float64           `json:"override"`
}

// Model describes the engine's model, nil when it has none.
func (e *Engine) Model() *ModelInfo {
	m := e.tree.model
	if m == nil {
		return nil
	}
	info := &ModelInfo{Version: m.version, Threshold: m.threshold, Override: m.override}
	if t, ok := m.p.(interface{ Trained() *linear.TrainInfo }); ok {
		info.Trained = t.Trained()
	}
	if l, ok := m.p.(interface{ Labels() []string }); ok {
		info.Labels = l.Labels()
	}
	return info
}
