package linear

import (
	"fmt"
	"slices"
)

// CrossValidate trains on all but one of folds stratified parts of
// examples and predicts the held-out part, for each part in turn, and
// returns the metrics over all held-out predictions. The split depends
// only on the examples' order and opts.Seed.
func CrossValidate(examples []TokenizedExample, opts TrainOptions, folds int) (Metrics, error) {
	if folds < 2 || folds > len(examples) {
		return Metrics{}, fmt.Errorf("cannot make %d folds of %d examples", folds, len(examples))
	}
	fold := stratifiedFolds(examples, folds, opts.Seed)
	gold := make([]string, len(examples))
	pred := make([]string, len(examples))
	for f := range folds {
		var train []TokenizedExample
		for i, ex := range examples {
			if fold[i] != f {
				train = append(train, ex)
			}
		}
		m, err := TrainTokenized(train, opts)
		if err != nil {
			return Metrics{}, fmt.Errorf("fold %d: %w", f+1, err)
		}
		for i, ex := range examples {
			if fold[i] == f {
				gold[i] = ex.Label
				pred[i] = m.Predict(ex.Tokens, ex.Text).Label
			}
		}
	}
	return Evaluate(gold, pred), nil
}

// stratifiedFolds assigns each example a fold so that every label is
// spread evenly over the folds.
func stratifiedFolds(examples []TokenizedExample, folds int, seed uint64) []int {
	byLabel := map[string][]int{}
	for i, ex := range examples {
		byLabel[ex.Label] = append(byLabel[ex.Label], i)
	}
	labels := make([]string, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	r := newRand(seed ^ 0x5bd1e995)
	out := make([]int, len(examples))
	next := 0
	for _, l := range labels {
		idx := byLabel[l]
		r.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for _, i := range idx {
			out[i] = next % folds
			next++
		}
	}
	return out
}

// SplitHoldout puts about frac of the examples, stratified by label, aside
// for measuring and returns (train, held out).
func SplitHoldout(examples []TokenizedExample, frac float64, seed uint64) (train, held []TokenizedExample, err error) {
	if frac <= 0 || frac >= 1 {
		return nil, nil, fmt.Errorf("holdout fraction must be between 0 and 1, got %g", frac)
	}
	folds := int(1/frac + 0.5)
	if folds < 2 {
		folds = 2
	}
	fold := stratifiedFolds(examples, folds, seed)
	for i, ex := range examples {
		if fold[i] == 0 {
			held = append(held, ex)
		} else {
			train = append(train, ex)
		}
	}
	if len(held) == 0 || len(train) == 0 {
		return nil, nil, fmt.Errorf("holdout %g of %d examples leaves an empty side", frac, len(examples))
	}
	return train, held, nil
}
