package linear

import (
	"math"
	"math/rand/v2"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// trainSVM fits one squared-hinge linear SVM per label against the rest by
// dual coordinate descent (Hsieh et al. 2008, LIBLINEAR's default solver)
// and returns the weights feature-major.
//
// The K problems are independent; they are solved side by side, visiting
// the examples in one shuffled order, so that each example's vector is read
// once per visit for all labels. A label whose problem has converged stops
// being updated.
func trainSVM(X []sparse, y []int, K, nf int, C float64, cw []float64, seed uint64) []float32 {
	const (
		eps     = 0.1
		maxIter = 200
	)
	n := len(X)
	qd := make([]float64, n)
	diag := make([]float64, n)
	for i, x := range X {
		for _, v := range x.val {
			qd[i] += float64(v) * float64(v)
		}
		diag[i] = 1 / (2 * C * cw[y[i]])
	}
	wk := make([]float64, nf*K)
	alpha := make([]float64, n*K)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	done := make([]bool, K)
	maxPG, minPG := make([]float64, K), make([]float64, K)
	s := make([]float64, K)
	d := make([]float64, K)
	r := newRand(seed)
	for iter := 0; iter < maxIter; iter++ {
		r.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
		for k := range K {
			maxPG[k], minPG[k] = math.Inf(-1), math.Inf(1)
		}
		for _, i := range order {
			x := X[i]
			scoresInto(wk, K, x, s)
			changed := false
			for k := range K {
				d[k] = 0
				if done[k] {
					continue
				}
				yi := -1.0
				if y[i] == k {
					yi = 1
				}
				a := &alpha[i*K+k]
				G := yi*s[k] - 1 + diag[i]**a
				PG := G
				if *a == 0 {
					PG = min(G, 0)
				}
				maxPG[k], minPG[k] = max(maxPG[k], PG), min(minPG[k], PG)
				if math.Abs(PG) < 1e-12 {
					continue
				}
				old := *a
				*a = max(old-G/(qd[i]+diag[i]), 0)
				d[k] = (*a - old) * yi
				changed = changed || d[k] != 0
			}
			if !changed {
				continue
			}
			for j, f := range x.idx {
				v := float64(x.val[j])
				row := wk[int(f)*K : int(f)*K+K]
				for k, dk := range d {
					row[k] += dk * v
				}
			}
		}
		all := true
		for k := range K {
			done[k] = done[k] || maxPG[k]-minPG[k] <= eps
			all = all && done[k]
		}
		if all {
			break
		}
	}
	w := make([]float32, nf*K)
	for i, v := range wk {
		w[i] = float32(v)
	}
	return w
}

// scoresInto writes x's score for each of K labels under the feature-major
// weights w into s.
func scoresInto(w []float64, K int, x sparse, s []float64) {
	clear(s)
	for j, f := range x.idx {
		v := float64(x.val[j])
		row := w[int(f)*K : int(f)*K+K]
		for k, wv := range row {
			s[k] += v * wv
		}
	}
}

// calibrateSVM returns the factor applied to SVM scores before the softmax
// that gives the confidence. Scores of the training messages themselves
// would make the model overconfident, so it trains on two thirds of them
// (stratified), scores the other third and fits the factor to those
// held-out scores. The vocabulary and weighting are the full model's: they
// do not depend on the labels.
func calibrateSVM(X []sparse, y []int, K, nf int, opts TrainOptions) float64 {
	const folds = 3
	fold := make([]int, len(y))
	perLabel := make([]int, K)
	r := newRand(opts.Seed ^ 0xca1b)
	for _, i := range r.Perm(len(y)) {
		fold[i] = perLabel[y[i]] % folds
		perLabel[y[i]]++
	}
	var trX []sparse
	var trY []int
	for i := range y {
		if fold[i] != 0 {
			trX, trY = append(trX, X[i]), append(trY, y[i])
		}
	}
	if len(trY) == 0 || len(trY) == len(y) {
		return 1
	}
	w := trainSVM(trX, trY, K, nf, opts.C, classWeights(trY, K, opts.Balanced), opts.Seed)
	wf := make([]float64, len(w))
	for i, v := range w {
		wf[i] = float64(v)
	}
	var scores []float64
	var heldY []int
	s := make([]float64, K)
	for i := range y {
		if fold[i] == 0 {
			scoresInto(wf, K, X[i], s)
			scores, heldY = append(scores, s...), append(heldY, y[i])
		}
	}
	return fitScale(scores, heldY, K)
}

// fitScale chooses the factor applied to scores (rows of K) before the
// softmax by minimising the log-loss against the true labels.
func fitScale(scores []float64, y []int, K int) float64 {
	nll := func(scale float64) float64 {
		var loss float64
		p := make([]float64, K)
		for i, c := range y {
			softmax(scores[i*K:i*K+K], scale, p)
			loss -= math.Log(max(p[c], 1e-12))
		}
		return loss
	}
	// Golden-section search on log(scale) over [0.1, 100].
	lo, hi := math.Log(0.1), math.Log(100)
	g := (math.Sqrt(5) - 1) / 2
	a, b := hi-g*(hi-lo), lo+g*(hi-lo)
	fa, fb := nll(math.Exp(a)), nll(math.Exp(b))
	for range 40 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - g*(hi-lo)
			fa = nll(math.Exp(a))
		} else {
			lo, a, fa = a, b, fb
			b = lo + g*(hi-lo)
			fb = nll(math.Exp(b))
		}
	}
	return math.Exp((lo + hi) / 2)
}

// trainLogistic fits multinomial logistic regression with L2 by Adagrad
// over shuffled examples; the penalty is applied to the coordinates each
// example touches.
func trainLogistic(X []sparse, y []int, K, nf int, opts TrainOptions, cw []float64) []float32 {
	w := make([]float64, nf*K)
	g2 := make([]float64, nf*K)
	order := make([]int, len(X))
	for i := range order {
		order[i] = i
	}
	r := newRand(opts.Seed)
	s := make([]float64, K)
	p := make([]float64, K)
	for range opts.Epochs {
		r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for _, i := range order {
			x := X[i]
			clear(s)
			for j, f := range x.idx {
				v := float64(x.val[j])
				row := w[int(f)*K : int(f)*K+K]
				for k := range K {
					s[k] += v * row[k]
				}
			}
			softmax(s, 1, p)
			p[y[i]] -= 1
			for j, f := range x.idx {
				v := float64(x.val[j]) * cw[y[i]]
				base := int(f) * K
				for k := range K {
					g := v*p[k] + opts.Lambda*w[base+k]
					g2[base+k] += g * g
					w[base+k] -= opts.LearningRate * g / (math.Sqrt(g2[base+k]) + 1e-8)
				}
			}
		}
	}
	out := make([]float32, len(w))
	for i, v := range w {
		out[i] = float32(v)
	}
	return out
}
