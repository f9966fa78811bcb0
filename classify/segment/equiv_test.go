//go:build !race

// Under the race detector gse's own dictionary loader takes about a minute,
// so the comparison with gse runs in normal builds only; the code compared
// is single-threaded.

package segment

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/go-ego/gse"
	"github.com/go-ego/gse/hmm"
)

// sharedDir is the shared directory beside the repository: ../shared from
// the repository root (the directory with go.mod), or from a directory
// further up when the repository is a worktree below it. Tests read the
// labelled messages from there; "" if there is none.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package")
		}
		dir = parent
	}
	for {
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
		if fi, err := os.Stat(filepath.Join(dir, "shared")); err == nil && fi.IsDir() {
			return filepath.Join(dir, "shared")
		}
	}
}

// corpus returns real citizen messages (titles and texts) from the training
// half of the labelled data in shared/eval/teddy2020c, or an error if it is
// not there.
func corpus(t testing.TB) ([]string, error) {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedDir(t), "eval", "teddy2020c", "train.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m struct {
			Title *string `json:"title"`
			Text  string  `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Title != nil {
			out = append(out, *m.Title)
		}
		out = append(out, m.Text)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

var edgeCases = []string{
	"", " ", "马上办", "Hello World 2020年", "ABC123店", "4S店门口乱停车",
	"楼道😀窗户脱落!!", "\xff\xfe无效字节", "华山南路马向路至印山东路一段", "３号楼　全角空格",
	"市民反映：A市A3区杜鹃文苑小区外的非法汽车检测站要开业了",
}

// TestSameAsGse checks that the flat dictionary holds exactly gse's words
// and that Cut gives gse's Cut(text, true) word for word. It is what ties
// the copies in data/ and this package's cut to the gse in go.mod: after a
// gse upgrade, a failure here means gse cuts differently now (run go
// generate to take its new data, and see what changed).
func TestSameAsGse(t *testing.T) {
	var g gse.Segmenter
	if err := g.LoadDictEmbed("zh_s"); err != nil {
		t.Fatal(err)
	}
	hmm.LoadModel()
	s, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.dict.total != g.Dict.TotalFreq() {
		t.Errorf("total frequency %v, gse %v", s.dict.total, g.Dict.TotalFreq())
	}
	for _, tok := range g.Dict.Tokens {
		f, pos, ok := s.Lookup(tok.Text())
		if !ok || f != tok.Freq() || pos != tok.Pos() {
			t.Fatalf("word %q: %v %q %v, gse %v %q", tok.Text(), f, pos, ok, tok.Freq(), tok.Pos())
		}
	}
	messages, corpusErr := corpus(t)
	texts := append(messages, edgeCases...)
	diff := 0
	for _, text := range texts {
		want := slices.DeleteFunc(g.Cut(text, true), func(w string) bool { return strings.TrimSpace(w) == "" })
		if got := s.Cut(text); !slices.Equal(got, want) {
			diff++
			if diff <= 5 {
				t.Errorf("Cut(%q)\n got %q\nwant %q", text, got, want)
			}
		}
	}
	if diff > 0 {
		t.Errorf("%d of %d texts cut differently from gse", diff, len(texts))
	}
	t.Logf("%d texts cut as gse does", len(texts))
	if corpusErr != nil {
		t.Skipf("edge cases only, labelled messages not available: %v", corpusErr)
	}
}

// BenchmarkGseLoad is gse's own loader, the start-up cost this package avoids.
func BenchmarkGseLoad(b *testing.B) {
	var g gse.Segmenter
	before := heapMB()
	for b.Loop() {
		g = gse.Segmenter{}
		if err := g.LoadDictEmbed("zh_s"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heapMB()-before, "heap-MB")
	runtime.KeepAlive(&g)
}

// BenchmarkGseCut is gse's own Cut of the text BenchmarkCut cuts.
func BenchmarkGseCut(b *testing.B) {
	var g gse.Segmenter
	if err := g.LoadDictEmbed("zh_s"); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		g.Cut(benchText, true)
	}
}

const benchText = "大厦楼顶安装的强光广告牌，距离马鞍山市花山区东方城二区16栋不足20米，一直亮到夜间近11点，" +
	"周边居民的生活受到影响。菜地七零八落、塑料垃圾乱披乱挂、建筑物料随意堆放，马鞍山市华山南路马向路至印山东路一段过去十分脏乱。"

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// BenchmarkBuildDict is a first start without a cache file: the table built
// from the embedded text.
func BenchmarkBuildDict(b *testing.B) {
	var d *dict
	before := heapMB()
	for b.Loop() {
		var err error
		if d, err = buildDict(zhS); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heapMB()-before, "heap-MB")
	runtime.KeepAlive(d)
}

// BenchmarkLoadCachedDict is a start with the cache file in place.
func BenchmarkLoadCachedDict(b *testing.B) {
	dir := b.TempDir()
	logger := slog.New(slog.DiscardHandler)
	if _, err := loadDict(dir, zhS, logger); err != nil {
		b.Fatal(err)
	}
	var d *dict
	before := heapMB()
	for b.Loop() {
		var err error
		if d, err = loadDict(dir, zhS, logger); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heapMB()-before, "heap-MB")
	runtime.KeepAlive(d)
}

// BenchmarkLoadHMM is the HMM's emission table, laid out once per process.
func BenchmarkLoadHMM(b *testing.B) {
	for b.Loop() {
		newHMM(hmmEmission[:])
	}
}

// hmmAlphabet is what the HMM tests draw text from: characters of the
// model, Han characters it lacks (U+3400, U+20000), and everything gse's
// hmm.Cut treats apart (ASCII numbers with and without a point, letters,
// blanks, punctuation, emoji, invalid UTF-8).
var hmmAlphabet = []string{
	"的", "是", "马", "鞍", "山", "路", "灯", "坏", "了", "窗", "户", "脱", "落", "龢", "∶",
	"\u3400", "\U00020000", "〇", "0", "1", "9", ".", "a", "Z", "x", " ", "\t", "，", "。", "-",
	"😀", "\xff", "\xe4\xb8",
}

// TestHMMSameAsGse checks the HMM against gse's on its own: the Viterbi
// path and its log probability for every character of the CJK block (which
// holds all the Han characters of gse's model), and the cut of random mixed
// texts.
func TestHMMSameAsGse(t *testing.T) {
	hmm.LoadModel()
	m := newHMM(hmmEmission[:])
	rng := rand.New(rand.NewPCG(1, 2))
	t.Run("viterbi", func(t *testing.T) {
		var runes []rune
		for range 3 {
			for r := rune(emitLo); r <= emitHi; r++ {
				runes = append(runes, r)
			}
		}
		rng.Shuffle(len(runes), func(i, j int) { runes[i], runes[j] = runes[j], runes[i] })
		for len(runes) > 0 {
			obs := runes[:min(1+rng.IntN(12), len(runes))]
			runes = runes[len(obs):]
			wantP, wantPath := hmm.Viterbi(obs, []byte("BMES"))
			path := m.viterbi(obs)
			got := make([]byte, len(path))
			p := 0.0
			for i, st := range path {
				got[i] = stateLetter[st]
				e := m.emission(obs[i])
				if i == 0 {
					p = e[st] + startLogP[st]
				} else {
					p = p + transLogP[path[i-1]][st] + e[st]
				}
			}
			if string(got) != string(wantPath) || p != wantP {
				t.Fatalf("viterbi(%q) = %s %v, gse %s %v", string(obs), got, p, wantPath, wantP)
			}
		}
	})
	t.Run("cut", func(t *testing.T) {
		for range 20000 {
			var b strings.Builder
			for range rng.IntN(16) {
				b.WriteString(hmmAlphabet[rng.IntN(len(hmmAlphabet))])
			}
			text := b.String()
			var got []string
			m.cut(text, func(w string) { got = append(got, w) })
			if want := hmm.Cut(text); !slices.Equal(got, want) {
				t.Fatalf("cut(%q)\n got %q\nwant %q", text, got, want)
			}
		}
	})
}

func FuzzHMMSameAsGse(f *testing.F) {
	hmm.LoadModel()
	m := newHMM(hmmEmission[:])
	for _, s := range append(edgeCases, hmmAlphabet...) {
		f.Add(s)
	}
	f.Add("3.14路灯12.5.6abc马鞍山x1.")
	f.Fuzz(func(t *testing.T, text string) {
		var got []string
		m.cut(text, func(w string) { got = append(got, w) })
		if want := hmm.Cut(text); !slices.Equal(got, want) {
			t.Fatalf("cut(%q)\n got %q\nwant %q", text, got, want)
		}
	})
}
