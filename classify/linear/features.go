package linear

import (
	"math"
	"slices"
	"unicode"
)

// FeatureOptions says which terms a message is turned into and how they are
// weighted. The zero value is not useful; DefaultFeatureOptions is.
type FeatureOptions struct {
	// Words uses the segmenter's words (lower-cased, punctuation dropped).
	Words bool `json:"words"`
	// WordBigrams adds pairs of adjacent words (punctuation breaks a pair).
	WordBigrams bool `json:"word_bigrams,omitempty"`
	// CharMin..CharMax are the orders of the character n-grams taken inside
	// runs of letters and digits (full-width forms folded, lower-cased);
	// CharMax 0 means no character n-grams.
	CharMin int `json:"char_min"`
	CharMax int `json:"char_max"`
	// FoldDigits maps every decimal digit to 0, so that 3号楼 and 5号楼 share terms.
	FoldDigits bool `json:"fold_digits"`
	// MinDF is how many training messages a term must occur in to enter the
	// vocabulary.
	MinDF int `json:"min_df"`
	// Sublinear weights a term by 1+ln(count) instead of its count.
	Sublinear bool `json:"sublinear"`
	// IDF multiplies by the smoothed inverse document frequency.
	IDF bool `json:"idf"`
}

// DefaultFeatureOptions are the features chosen by cross-validation on
// labelled citizen messages: words and character 1-3 grams, log counts
// times IDF, L2-normalised.
func DefaultFeatureOptions() FeatureOptions {
	return FeatureOptions{Words: true, CharMin: 1, CharMax: 3, MinDF: 2, Sublinear: true, IDF: true}
}

func (o FeatureOptions) validate() error {
	if !o.Words && o.CharMax == 0 {
		return errorf("no features: enable words or character n-grams")
	}
	if o.CharMax != 0 && (o.CharMin < 1 || o.CharMax < o.CharMin || o.CharMax > 8) {
		return errorf("bad character n-gram range %d..%d", o.CharMin, o.CharMax)
	}
	if o.MinDF < 1 {
		return errorf("min document frequency must be at least 1, got %d", o.MinDF)
	}
	return nil
}

// Terms are identified by a 64-bit FNV-1a hash of a one-byte namespace and
// their normalised runes, so that the word 路灯 and the character bigram 路灯
// are different features and no term string is built while scoring. With a
// vocabulary of a few hundred thousand terms a collision is vanishingly
// unlikely, and one would only merge two features.
const (
	nsWord   = 'w'
	nsBigram = 'b'
	nsChar   = 'c'

	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashStart(ns byte) uint64 { return (fnvOffset ^ uint64(ns)) * fnvPrime }

func hashRune(h uint64, r rune) uint64 {
	// Three bytes per rune, low byte first: runes are < 2^21.
	u := uint32(r)
	for range 3 {
		h = (h ^ uint64(u&0xff)) * fnvPrime
		u >>= 8
	}
	return h
}

// normRune folds full-width ASCII forms, lower-cases, optionally folds
// digits, and reports whether r belongs to a word-like run (letter or digit).
func normRune(r rune, foldDigits bool) (rune, bool) {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		r -= 0xFEE0
	case r == 0x3000:
		r = ' '
	}
	if r < 0x80 {
		switch {
		case r >= '0' && r <= '9':
			if foldDigits {
				return '0', true
			}
			return r, true
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A'), true
		case r >= 'a' && r <= 'z':
			return r, true
		}
		return r, false
	}
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return r, false
	}
	if foldDigits && unicode.IsDigit(r) {
		return '0', true
	}
	return unicode.ToLower(r), true
}

// extractor produces the term hashes of a message, reusing its buffer; it
// is not safe for concurrent use (each caller makes its own).
type extractor struct {
	opt   FeatureOptions
	runes []rune
}

// terms calls fn with the hash of each term of the message, once per
// occurrence.
func (e *extractor) terms(tokens []string, text string, fn func(h uint64)) {
	if e.opt.Words {
		var prev uint64 // hash of the previous word, 0 after punctuation
		for _, tok := range tokens {
			h := hashStart(nsWord)
			letters := 0
			for _, r := range tok {
				r, ok := normRune(r, e.opt.FoldDigits)
				if ok {
					letters++
				}
				h = hashRune(h, r)
			}
			if letters == 0 {
				prev = 0
				continue
			}
			fn(h)
			if e.opt.WordBigrams && prev != 0 {
				fn((hashStart(nsBigram) ^ prev*31 ^ h) * fnvPrime)
			}
			prev = h
		}
	}
	if e.opt.CharMax == 0 {
		return
	}
	run := e.runes[:0]
	flush := func() {
		for i := range run {
			h := hashStart(nsChar)
			for n := 1; n <= e.opt.CharMax && i+n <= len(run); n++ {
				h = hashRune(h, run[i+n-1])
				if n >= e.opt.CharMin {
					fn(h)
				}
			}
		}
		run = run[:0]
	}
	for _, r := range text {
		r, ok := normRune(r, e.opt.FoldDigits)
		if !ok {
			flush()
			continue
		}
		run = append(run, r)
	}
	flush()
	e.runes = run
}

// sparse is a feature vector: ascending indices and their values.
type sparse struct {
	idx []int32
	val []float32
}

// counts returns the distinct term hashes of a message, ascending, with
// how often each occurs.
func (e *extractor) counts(tokens []string, text string) termCounts {
	var hs []uint64
	e.terms(tokens, text, func(h uint64) { hs = append(hs, h) })
	slices.Sort(hs)
	var tc termCounts
	for i := 0; i < len(hs); {
		j := i + 1
		for j < len(hs) && hs[j] == hs[i] {
			j++
		}
		tc.hash = append(tc.hash, hs[i])
		tc.n = append(tc.n, int32(j-i))
		i = j
	}
	return tc
}

// termCounts are a message's distinct terms and their counts.
type termCounts struct {
	hash []uint64
	n    []int32
}

// vectorise maps the message's terms to its weighted, L2-normalised vector
// over vocab, with the constant bias feature (index len(idf)) appended.
func vectorise(opt FeatureOptions, vocab map[uint64]int32, idf []float32, tc termCounts) sparse {
	var v sparse
	for i, h := range tc.hash {
		if id, ok := vocab[h]; ok {
			// Hash order and vocabulary order agree (the vocabulary is
			// sorted by hash), so idx comes out ascending.
			v.idx = append(v.idx, id)
			v.val = append(v.val, termWeight(opt, idf, id, tc.n[i]))
		}
	}
	return finish(v, len(idf))
}

// vectoriseKnown is vectorise straight from a message, for prediction: it
// looks each term up as it comes and sorts only the known ones.
func (e *extractor) vectoriseKnown(vocab map[uint64]int32, idf []float32, tokens []string, text string) sparse {
	ids := make([]int32, 0, 2*len(text)/3+len(tokens))
	e.terms(tokens, text, func(h uint64) {
		if id, ok := vocab[h]; ok {
			ids = append(ids, id)
		}
	})
	slices.Sort(ids)
	v := sparse{idx: make([]int32, 0, len(ids)+1), val: make([]float32, 0, len(ids)+1)}
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j] == ids[i] {
			j++
		}
		v.idx = append(v.idx, ids[i])
		v.val = append(v.val, termWeight(e.opt, idf, ids[i], int32(j-i)))
		i = j
	}
	return finish(v, len(idf))
}

func termWeight(opt FeatureOptions, idf []float32, id, count int32) float32 {
	tf := float64(count)
	if opt.Sublinear {
		tf = 1 + math.Log(tf)
	}
	if opt.IDF {
		tf *= float64(idf[id])
	}
	return float32(tf)
}

// finish L2-normalises v and appends the bias feature, index bias.
func finish(v sparse, bias int) sparse {
	var norm float64
	for _, x := range v.val {
		norm += float64(x) * float64(x)
	}
	if norm > 0 {
		inv := float32(1 / math.Sqrt(norm))
		for i := range v.val {
			v.val[i] *= inv
		}
	}
	v.idx = append(v.idx, int32(bias))
	v.val = append(v.val, 1)
	return v
}

// buildVocab counts document frequencies over the training messages and
// keeps the terms that reach minDF, in hash order so that the same data
// always gives the same model.
func buildVocab(docs []termCounts, minDF int) (terms []uint64, vocab map[uint64]int32, idf []float32) {
	df := map[uint64]int32{}
	for _, d := range docs {
		for _, h := range d.hash {
			df[h]++
		}
	}
	for h, n := range df {
		if int(n) >= minDF {
			terms = append(terms, h)
		}
	}
	slices.Sort(terms)
	vocab = make(map[uint64]int32, len(terms))
	idf = make([]float32, len(terms))
	n := float64(len(docs))
	for i, h := range terms {
		vocab[h] = int32(i)
		idf[i] = float32(math.Log((1+n)/(1+float64(df[h]))) + 1)
	}
	return terms, vocab, idf
}
