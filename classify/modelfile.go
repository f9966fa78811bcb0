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
