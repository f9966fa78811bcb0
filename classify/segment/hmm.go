package segment

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The hidden Markov model that cuts runs of characters the dictionary leaves
// single (jieba's model, as gse ships it): each character Begins, is in the
// Middle of, Ends a word or is a Single-character word, and the Viterbi path
// over those states gives the words. The cut is gse's hmm.Cut, ties and
// all: TestSameAsGse and TestHMMSameAsGse compare them.

// hmmEmitText is gse's emission table (hmm/prob_emit.go), copied as text by
// gen_data.go: a character and its log probabilities in B, M, E, S.
//
//go:embed data/hmm_emit.txt
var hmmEmitText string

// The states, in the order of the emission table. gse breaks ties between
// equally likely states by their letters, so stateLetter is kept to compare.
const (
	stB = iota
	stM
	stE
	stS
)

var stateLetter = [4]byte{'B', 'M', 'E', 'S'}

// minLogP is gse's log probability of what its model does not have.
const minLogP = -3.14e100

var (
	startLogP = [4]float64{
		stB: -0.26268660809250016,
		stM: -3.14e+100,
		stE: -3.14e+100,
		stS: -1.4652633398537678,
	}
	// transLogP[from][to]; prevStates[to] are the states a state can follow,
	// in gse's order (which decides ties).
	transLogP = [4][4]float64{
		stB: {stB: minLogP, stM: -0.916290731874155, stE: -0.510825623765990, stS: minLogP},
		stM: {stB: minLogP, stM: -1.2603623820268226, stE: -0.33344856811948514, stS: minLogP},
		stE: {stB: -0.5897149736854513, stM: minLogP, stE: minLogP, stS: -0.8085250474669937},
		stS: {stB: -0.7211965654669841, stM: minLogP, stE: minLogP, stS: -0.6658631448798212},
	}
	prevStates = [4][2]int{
		stB: {stE, stS},
		stM: {stM, stB},
		stE: {stB, stM},
		stS: {stS, stE},
	}
)

// The table covers the CJK Unified Ideographs block directly; the few
// characters outside it are in a map.
const emitLo, emitHi = 0x4e00, 0x9fff

type hmmModel struct {
	emit  [][4]float64 // emitLo..emitHi
	other map[rune][4]float64
}

var noEmission = [4]float64{minLogP, minLogP, minLogP, minLogP}

func (m *hmmModel) emission(r rune) [4]float64 {
	if emitLo <= r && r <= emitHi {
		return m.emit[r-emitLo]
	}
	if e, ok := m.other[r]; ok {
		return e
	}
	return noEmission
}

func parseHMM(text string) (*hmmModel, error) {
	m := &hmmModel{emit: make([][4]float64, emitHi-emitLo+1), other: map[rune][4]float64{}}
	for i := range m.emit {
		m.emit[i] = noEmission
	}
	n, no := 0, 0
	for line := range strings.SplitSeq(text, "\n") {
		no++
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, "\t")
		r, size := utf8.DecodeRuneInString(fields[0])
		if len(fields) != 5 || r == utf8.RuneError || size != len(fields[0]) {
			return nil, fmt.Errorf("hmm model line %d: malformed", no)
		}
		e := noEmission
		for s, f := range fields[1:] {
			if f == "-" {
				continue
			}
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return nil, fmt.Errorf("hmm model line %d: %w", no, err)
			}
			e[s] = v
		}
		if emitLo <= r && r <= emitHi {
			m.emit[r-emitLo] = e
		} else {
			m.other[r] = e
		}
		n++
	}
	if n == 0 {
		return nil, errors.New("hmm model is empty")
	}
	return m, nil
}

// cut cuts text as gse's hmm.Cut does with its default expressions: a run
// of Han characters through the model, an ASCII number with a decimal point
// or a run of ASCII letters and digits whole, and anything else up to the
// next of those as one piece (blanks and punctuation included).
func (m *hmmModel) cut(text string, emit func(string)) {
	for len(text) > 0 {
		r, size := utf8.DecodeRuneInString(text)
		end := size
		switch {
		case unicode.Is(unicode.Han, r):
			for end < len(text) {
				r, size := utf8.DecodeRuneInString(text[end:])
				if !unicode.Is(unicode.Han, r) {
					break
				}
				end += size
			}
			m.cutHan(text[:end], emit)
		case isAlnum(text[0]):
			end = alnumEnd(text)
			emit(text[:end])
		default:
			for end < len(text) {
				r, size := utf8.DecodeRuneInString(text[end:])
				if isAlnum(text[end]) || unicode.Is(unicode.Han, r) {
					break
				}
				end += size
			}
			emit(text[:end])
		}
		text = text[end:]
	}
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func isAlnum(b byte) bool { return isDigit(b) || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

// alnumEnd is the end of gse's `(\d+\.\d+|[a-zA-Z0-9]+)` matched at the
// start of text (which is an ASCII letter or digit): the first alternative
// wins where it matches.
func alnumEnd(text string) int {
	d := 0
	for d < len(text) && isDigit(text[d]) {
		d++
	}
	if d > 0 && d+1 < len(text) && text[d] == '.' && isDigit(text[d+1]) {
		e := d + 2
		for e < len(text) && isDigit(text[e]) {
			e++
		}
		return e
	}
	e := 0
	for e < len(text) && isAlnum(text[e]) {
		e++
	}
	return e
}

// cutHan cuts a run of Han characters on the Viterbi path, as gse's
// internalCut: a word from each B to the next E, S alone, and whatever the
// path leaves open at the end as one word.
func (m *hmmModel) cutHan(text string, emit func(string)) {
	runes := []rune(text)
	path := m.viterbi(runes)
	begin, next := 0, 0
	for i, st := range path {
		switch st {
		case stB:
			begin = i
		case stE:
			emit(string(runes[begin : i+1]))
			next = i + 1
		case stS:
			emit(string(runes[i]))
			next = i + 1
		}
	}
	if next < len(runes) {
		emit(string(runes[next:]))
	}
}

// viterbi returns the most likely states of obs (not empty). The sums are
// gse's, term by term and in its order, and so are the ties: between two
// equally likely predecessors, and between E and S at the end, the later
// letter wins (gse sorts the candidates descending by probability and then
// by letter).
func (m *hmmModel) viterbi(obs []rune) []uint8 {
	n := len(obs)
	back := make([][4]uint8, n)
	var cur [4]float64
	e := m.emission(obs[0])
	for y := range 4 {
		cur[y] = e[y] + startLogP[y]
	}
	for t := 1; t < n; t++ {
		e := m.emission(obs[t])
		var next [4]float64
		for y := range 4 {
			emP := e[y]
			y0, y1 := prevStates[y][0], prevStates[y][1]
			p0 := cur[y0] + transLogP[y0][y] + emP
			p1 := cur[y1] + transLogP[y1][y] + emP
			if p0 < p1 || (p0 == p1 && stateLetter[y0] < stateLetter[y1]) {
				next[y], back[t][y] = p1, uint8(y1)
			} else {
				next[y], back[t][y] = p0, uint8(y0)
			}
		}
		cur = next
	}
	// E against S, as above: S wins a tie.
	st := uint8(stE)
	if cur[stE] <= cur[stS] {
		st = stS
	}
	path := make([]uint8, n)
	for t := n - 1; t >= 0; t-- {
		path[t] = st
		st = back[t][st]
	}
	return path
}
