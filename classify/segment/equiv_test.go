//go:build !race

// Under the race detector gse's own dictionary loader takes about a minute,
// so the comparison with gse runs in normal builds only; the code compared
// is single-threaded.

package segment

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/go-ego/gse"
	"github.com/go-ego/gse/hmm"
)

// sharedDir is ../shared next to the repository root (the directory with
// go.mod); tests read the labelled messages from there.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package")
		}
		dir = parent
	}
}

// corpus returns real citizen messages (titles and texts) from the training
// half of the labelled data in ../shared/eval/teddy2020c.
func corpus(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedDir(t), "eval", "teddy2020c", "train.jsonl"))
	if err != nil {
		t.Skipf("labelled messages not available: %v", err)
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
	return out
}

var edgeCases = []string{
	"", " ", "马上办", "Hello World 2020年", "ABC123店", "4S店门口乱停车",
	"楼道😀窗户脱落!!", "\xff\xfe无效字节", "华山南路马向路至印山东路一段", "３号楼　全角空格",
	"市民反映：A市A3区杜鹃文苑小区外的非法汽车检测站要开业了",
}

// TestSameAsGse checks that the flat dictionary holds exactly gse's words
// and that Cut gives gse's Cut(text, true) word for word.
func TestSameAsGse(t *testing.T) {
	var g gse.Segmenter
	if err := g.LoadDictEmbed("zh_s"); err != nil {
		t.Fatal(err)
	}
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
	texts := append(corpus(t), edgeCases...)
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
// from gse's embedded text.
func BenchmarkBuildDict(b *testing.B) {
	var d *dict
	before := heapMB()
	for b.Loop() {
		var err error
		if d, err = buildDict(gseZhS); err != nil {
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
	if _, err := loadDict(dir, gseZhS, logger); err != nil {
		b.Fatal(err)
	}
	var d *dict
	before := heapMB()
	for b.Loop() {
		var err error
		if d, err = loadDict(dir, gseZhS, logger); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heapMB()-before, "heap-MB")
	runtime.KeepAlive(d)
}

// BenchmarkLoadHMM is gse's HMM model, loaded once per process.
func BenchmarkLoadHMM(b *testing.B) {
	for b.Loop() {
		hmm.LoadModel()
	}
}
