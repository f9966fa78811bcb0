// Package segment cuts Chinese text into words: jieba's simplified-Chinese
// dictionary as gse ships it, the maximum-probability path over the word
// DAG, and jieba's hidden Markov model for runs of unknown characters, with
// the gazetteer's place names added as user words so that a place stays one
// word ("印山东路", never "印" "山东" "路").
//
// The cut is gse's Cut(text, true), word for word, but the package owns it:
// the dictionary (data/zh_s.txt, embedded) and the HMM's emission table
// (hmm_emit.go) are copied from gse by gen_data.go (see data/README.md for
// where they come from and their licences), and the DAG, the route and the Viterbi path are this
// package's code. gse is only a test dependency, the reference that
// TestSameAsGse compares the cut with, so a gse release can neither break
// the build nor change how text is cut. See README.md for why, and for
// the figures.
//
// The dictionary is kept as one flat hash table of about 14 MB built
// straight from the embedded text, rather than gse's trie and token structs
// (seconds and over 100 MB), and NewCached keeps that table in a cache file
// that the next start reads without parsing.
//
// It is not for deciding anything about the words: see classify.
package segment

//go:generate go run gen_data.go

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// zhS is the simplified-Chinese dictionary, "word frequency part-of-speech"
// lines: gse's data/dict/zh/s_1.txt, copied by gen_data.go.
//
//go:embed data/zh_s.txt
var zhS string

// UserFreq is the least frequency a user word gets (a dictionary word keeps
// its own if higher). Any frequency keeps a place name whole against splits
// into rarer pieces (印山东路 against 印 山东 路); a moderate one keeps a
// short name from winning over common words around it (with 再安 a user
// word, 再安排 stays 再 安排). See README.md for the measured effect.
const UserFreq = 1000

// Segmenter is safe for concurrent use once built.
type Segmenter struct {
	dict *dict
	hmm  *hmmModel
	// user words (their frequency) and their proper prefixes (0), which
	// override the dictionary.
	user map[string]float64
}

// Options configure NewWithOptions.
type Options struct {
	// CacheDir holds the prebuilt dictionary table (a file of about 14 MB
	// named after the dictionary's checksum). Empty: build it every time.
	CacheDir string
	// Logger reports cache misses and cache write failures; nil discards.
	Logger *slog.Logger
}

var loadHMM = sync.OnceValue(func() *hmmModel { return newHMM(hmmEmission[:]) })

// New builds the dictionary table from the embedded text (once per
// process) and adds words (place names, domain terms) with frequency at
// least UserFreq.
func New(words []string) (*Segmenter, error) {
	return NewWithOptions(words, Options{})
}

// NewCached is New with the dictionary table kept in cacheDir: read it if it
// is there and matches the embedded dictionary, else build it and write it.
func NewCached(cacheDir string, words []string) (*Segmenter, error) {
	return NewWithOptions(words, Options{CacheDir: cacheDir})
}

// NewWithOptions builds a Segmenter. A missing, stale or damaged cache file
// is rebuilt; failing to write it is logged, not an error.
func NewWithOptions(words []string, o Options) (*Segmenter, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hmm := loadHMM()
	d, err := table(o.CacheDir, logger)
	if err != nil {
		return nil, err
	}
	s := &Segmenter{dict: d, hmm: hmm, user: map[string]float64{}}
	for _, w := range words {
		w = asciiLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		f := float64(UserFreq)
		if df, _, ok := d.lookup(w); ok && df > f {
			f = df
		}
		s.user[w] = f
		for i := range w {
			if _, ok := s.user[w[:i]]; i > 0 && !ok {
				s.user[w[:i]] = 0
			}
		}
	}
	return s, nil
}

// CacheFile is the name of the cache file for the embedded dictionary.
func CacheFile(cacheDir string) string { return cacheFile(cacheDir, zhS) }

// cacheFile names the table after the dictionary text it was built from
// (and the table's format), so that a binary with another dictionary never
// reads it.
func cacheFile(cacheDir, source string) string {
	return filepath.Join(cacheDir, fmt.Sprintf("zh_s-%08x.dict", sourceChecksum(source)))
}

var zhSChecksum = sync.OnceValue(func() uint32 { return checksum(unsafe.Slice(unsafe.StringData(zhS), len(zhS))) })

// sourceChecksum identifies a dictionary text; the embedded one's is
// computed once.
func sourceChecksum(source string) uint32 {
	if source == zhS {
		return zhSChecksum()
	}
	return checksum(unsafe.Slice(unsafe.StringData(source), len(source)))
}

// The table of the embedded dictionary is loaded once per process and shared by
// every Segmenter (it is read-only): a reload that rebuilds the segmenter
// with new place names only adds the words.
var shared struct {
	sync.Mutex
	d *dict
}

// table returns the shared table, loading it on first use. Later calls with
// a cache directory make sure the cache file is there.
func table(cacheDir string, logger *slog.Logger) (*dict, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.d == nil {
		d, err := loadDict(cacheDir, zhS, logger)
		if err != nil {
			return nil, err
		}
		shared.d = d
		return d, nil
	}
	if cacheDir != "" {
		path := cacheFile(cacheDir, zhS)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			writeCache(path, shared.d.data, logger)
		}
	}
	return shared.d, nil
}

// loadDict returns the table of the dictionary text source, from the cache
// in cacheDir when it has a sound one.
func loadDict(cacheDir, source string, logger *slog.Logger) (*dict, error) {
	if cacheDir == "" {
		return buildDict(source)
	}
	path := cacheFile(cacheDir, source)
	data, err := os.ReadFile(path)
	if err == nil {
		d, err := openDict(data)
		if err == nil && d.sourceSum != sourceChecksum(source) {
			err = errors.New("built from another dictionary")
		}
		if err == nil {
			return d, nil
		}
		logger.Warn("segment dictionary cache unusable, rebuilding", "path", path, "error", err)
	} else if !errors.Is(err, fs.ErrNotExist) {
		logger.Warn("segment dictionary cache unreadable, rebuilding", "path", path, "error", err)
	}
	d, err := buildDict(source)
	if err != nil {
		return nil, err
	}
	writeCache(path, d.data, logger)
	return d, nil
}

// writeCache writes a table to path and removes the tables of other
// dictionaries from its directory: those of earlier releases, named
// zh_s-<checksum>.dict or, before the dictionary was part of mashangban,
// gse-<version>-zh_s-<checksum>.dict. (Two binaries with different
// dictionaries sharing one cache directory would each rebuild on start.)
func writeCache(path string, data []byte, logger *slog.Logger) {
	if err := writeFileAtomic(path, data); err != nil {
		logger.Warn("segment dictionary cache not written", "path", path, "error", err)
		return
	}
	logger.Info("segment dictionary cache written", "path", path, "bytes", len(data))
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		stale, _ := filepath.Match("zh_s-*.dict", name)
		if old, _ := filepath.Match("gse-*-zh_s-*.dict", name); old {
			stale = true
		}
		if !stale || e.IsDir() || name == filepath.Base(path) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			logger.Warn("stale segment dictionary cache not removed", "path", filepath.Join(dir, name), "error", err)
		} else {
			logger.Info("stale segment dictionary cache removed", "path", filepath.Join(dir, name))
		}
	}
}

// writeFileAtomic writes through a temporary file and a rename, so that a
// concurrent reader sees the old file or the whole new one.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create cache dir: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".segment-*.tmp")
	if err != nil {
		return fmt.Errorf("create cache file: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename this finds nothing
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write cache file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write cache file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename cache file: %w", err)
	}
	return nil
}

// find answers like gse's Dictionary.Find: ok if w is a word or a prefix of
// one, with the word's frequency (0 for a prefix only).
func (s *Segmenter) find(w string) (float64, bool) {
	uf, uok := s.user[w]
	if uf > 0 {
		return uf, true
	}
	if f, _, ok := s.dict.lookup(w); ok {
		return f, true
	}
	return 0, uok
}

// Lookup reports the frequency and part of speech of a dictionary word
// (a user word has its frequency and part of speech "").
func (s *Segmenter) Lookup(word string) (freq float64, pos string, ok bool) {
	word = asciiLower(word)
	if f := s.user[word]; f > 0 {
		return f, "", true
	}
	f, tag, ok := s.dict.lookup(word)
	if !ok || f == 0 {
		return 0, "", false
	}
	return f, tag, true
}

// Cut returns the words of text, without blanks, as gse's Cut(text, true)
// does (HMM on for unknown words; text lowered, as gse's default ToLower).
func (s *Segmenter) Cut(text string) []string {
	text = strings.ToLower(text)
	runes := []rune(text)
	route := s.route(runes)
	out := make([]string, 0, len(runes)/2+1)
	emit := func(w string) {
		if strings.TrimSpace(w) != "" {
			out = append(out, w)
		}
	}
	var buf []rune
	flush := func() {
		switch {
		case len(buf) == 0:
		case len(buf) == 1:
			emit(string(buf))
		default:
			// A run of single characters: gse hands it to the HMM unless the
			// whole run is itself a word.
			str := string(buf)
			if f, ok := s.find(str); !ok || f == 0 {
				s.hmm.cut(str, emit)
			} else {
				for _, r := range buf {
					emit(string(r))
				}
			}
		}
		buf = buf[:0]
	}
	for x := 0; x < len(runes); {
		y := route[x].index + 1
		if y-x == 1 {
			buf = append(buf, runes[x])
		} else {
			flush()
			emit(string(runes[x:y]))
		}
		x = y
	}
	flush()
	return out
}

type step struct {
	logp  float64
	index int // last rune of the best word starting here
}

type edge struct {
	end  int // last rune of the word
	freq float64
	ok   bool
}

// route is gse's calc: for each position, the best word to start there on
// the maximum-probability path to the end (log frequencies over the total;
// ties go to the longer word). Its quirks are kept on purpose, so the cut
// stays gse's: a character that is only a prefix of words scores log(0).
func (s *Segmenter) route(runes []rune) []step {
	n := len(runes)
	// Byte offsets of the runes in text, so that candidate words are
	// substrings of one string rather than new allocations.
	text := string(runes)
	off := make([]int, n+1)
	for i, b := 0, 0; i < n; i++ {
		off[i] = b
		b += utf8.RuneLen(runes[i])
		off[i+1] = b
	}
	rs := make([]step, n+1)
	logT := math.Log(s.dict.total)
	var edges []edge
	for k := n - 1; k >= 0; k-- {
		// The DAG: every word text[k:i+1] in the dictionary, or the
		// character alone if there is none.
		edges = edges[:0]
		for i := k; i < n; i++ {
			f, ok := s.find(text[off[k]:off[i+1]])
			if !ok {
				break
			}
			if f > 0 {
				edges = append(edges, edge{i, f, true})
			}
		}
		if len(edges) == 0 {
			f, ok := s.find(text[off[k]:off[k+1]])
			edges = append(edges, edge{k, f, ok})
		}
		for j, e := range edges {
			f := e.freq
			if !e.ok {
				f = 1
			}
			r := step{logp: math.Log(f) - logT + rs[e.end+1].logp, index: e.end}
			if j == 0 || rs[k].logp < r.logp || (rs[k].logp == r.logp && rs[k].index < r.index) {
				rs[k] = r
			}
		}
	}
	return rs
}
