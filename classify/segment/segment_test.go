package segment_test

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-ego/gse"

	"github.com/mashangban/mashangban/classify/gazetteer"
	"github.com/mashangban/mashangban/classify/segment"
)

// defaultPlaces is the places file of the default rule set, in the repository.
var defaultPlaces = filepath.Join("..", "..", "rules", "default", "places.yaml")

func gazetteerWords(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(defaultPlaces)
	if err != nil {
		t.Fatal(err)
	}
	places, err := gazetteer.ParsePlaces("places.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gazetteer.New(places)
	if err != nil {
		t.Fatal(err)
	}
	return g.Words()
}

// One cache directory for the whole test binary: the table is built once.
var cacheDir = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "segment-test-")
	if err != nil {
		panic(err)
	}
	return dir
})

func TestMain(m *testing.M) {
	if mode := os.Getenv("MSB_SEGMENT_STARTUP"); mode != "" {
		os.Exit(startup(mode))
	}
	code := m.Run()
	os.RemoveAll(cacheDir())
	os.Exit(code)
}

// startup is what BenchmarkStartup and TestStartupCache run in a fresh
// process: get ready to cut (the gazetteer and the segmenter with its words,
// from the cache in $MSB_SEGMENT_CACHE or without one, or gse's own loader),
// cut one text, and print the live heap in MB and the words of the text on
// a line each. The segmenter's log goes to stderr.
func startup(mode string) int {
	g, err := gazetteer.New(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var cut func(string) []string
	switch mode {
	case "cached", "cold":
		s, err := segment.NewWithOptions(g.Words(), segment.Options{
			CacheDir: os.Getenv("MSB_SEGMENT_CACHE"),
			Logger:   slog.New(slog.NewTextHandler(os.Stderr, nil)),
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cut = s.Cut
	case "gse":
		var seg gse.Segmenter
		if err := seg.LoadDictEmbed("zh_s"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, w := range g.Words() {
			seg.AddToken(w, segment.UserFreq, "ns")
		}
		cut = func(text string) []string { return seg.Cut(text, true) }
	default:
		fmt.Fprintln(os.Stderr, "unknown startup mode", mode)
		return 2
	}
	words := cut(benchText)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("%.1f\n%s\n", float64(ms.HeapAlloc)/(1<<20), strings.Join(words, " "))
	runtime.KeepAlive(cut)
	return 0
}

var (
	withPlaces = sync.OnceValues(func() (*segment.Segmenter, error) {
		return segment.NewCached(cacheDir(), gazetteerWordsOrPanic())
	})
	plain = sync.OnceValues(func() (*segment.Segmenter, error) { return segment.NewCached(cacheDir(), nil) })
)

func gazetteerWordsOrPanic() []string {
	data, err := os.ReadFile(defaultPlaces)
	if err != nil {
		panic(err)
	}
	places, err := gazetteer.ParsePlaces("places.yaml", data)
	if err != nil {
		panic(err)
	}
	g, err := gazetteer.New(places)
	if err != nil {
		panic(err)
	}
	return g.Words()
}

func TestCutPlaces(t *testing.T) {
	s, err := withPlaces()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []string // words that must appear, whole
		not  []string // words that must not appear
	}{
		{"华山南路马向路至印山东路一段过去十分脏乱", []string{"华山南路", "马向路", "印山东路"}, []string{"山东"}},
		{"阳湖花园12栋3单元楼梯间3楼窗户脱落", []string{"阳湖花园", "窗户", "脱落"}, []string{"阳湖"}},
		{"马鞍山市花山区东方城二区16栋不足20米", []string{"花山区", "东方城二区"}, []string{"东方"}},
		{"可因地处花山区和雨山区的交界处", []string{"花山区", "和", "雨山区", "交界处"}, []string{"区和"}},
		{"家住马鞍山市花山区森隆英郡小区的赵先生", []string{"森隆英郡小区"}, nil},
		{"雨山区阳湖社区党委书记", []string{"雨山区", "阳湖社区"}, nil},
		{"向山镇锁库村委会门口", []string{"向山镇", "锁库村委会"}, nil},
		{"和县乌江镇霸王祠附近", []string{"和县", "乌江镇", "霸王祠"}, nil},
		{"慈湖高新区的企业拖欠工资", []string{"慈湖高新区", "企业", "拖欠工资"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got := s.Cut(tt.text)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("Cut(%q) = %q: no %q", tt.text, got, w)
				}
			}
			for _, w := range tt.not {
				if slices.Contains(got, w) {
					t.Errorf("Cut(%q) = %q: has %q", tt.text, got, w)
				}
			}
			if strings.Join(got, "") != strings.Join(strings.Fields(tt.text), "") {
				t.Errorf("Cut(%q) = %q does not cover the text", tt.text, got)
			}
		})
	}
}

// Without the gazetteer's words gse's dictionary cuts 印山东路 with 山东 in
// it: the user words are what keep it whole.
func TestUserWordsMatter(t *testing.T) {
	s, err := plain()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Cut("印山东路"); !slices.Contains(got, "山东") {
		t.Errorf("gse's dictionary alone cut 印山东路 as %q", got)
	}
	s2, err := segment.NewCached(cacheDir(), []string{"印山东路", " ", ""})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(segment.CacheFile(cacheDir())); err != nil {
		t.Errorf("NewCached wrote no cache file: %v", err)
	}
	if got := s2.Cut("印山东路"); !slices.Equal(got, []string{"印山东路"}) {
		t.Errorf("with the user word: %q", got)
	}
	if f, pos, ok := s2.Lookup("印山东路"); !ok || f != segment.UserFreq || pos != "" {
		t.Errorf("Lookup(印山东路) = %v %q %v", f, pos, ok)
	}
	if f, pos, ok := s2.Lookup("山东"); !ok || f <= 0 || pos != "ns" {
		t.Errorf("Lookup(山东) = %v %q %v, want a place name (ns) with a frequency", f, pos, ok)
	}
	// A short user word does not beat a common word next to it (UserFreq is moderate).
	s3, err := segment.NewCached(cacheDir(), []string{"再安"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s3.Cut("社区说过两天再安排人来修"); !slices.Contains(got, "安排") {
		t.Errorf("with the user word 再安: %q", got)
	}
	if got := s3.Cut("含山县再安村"); !slices.Contains(got, "再安") {
		t.Errorf("with the user word 再安, the village: %q", got)
	}
	if _, _, ok := s2.Lookup("印山东"); ok {
		t.Error("Lookup found a prefix that is not a word")
	}
}

func TestCutEdgeCases(t *testing.T) {
	s, err := plain()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []string
	}{
		{"", []string{}},
		{"   \t\n", []string{}},
		{"Hello World", []string{"hello", "world"}},
		{"路灯坏了", []string{"路灯", "坏", "了"}},
	}
	for _, tt := range tests {
		if got := s.Cut(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("Cut(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	// Invalid UTF-8 and emoji never panic and leave no blanks.
	for _, text := range []string{"\xff\xfe窗户", "楼道😀窗户", strings.Repeat("办", 5000)} {
		for _, w := range s.Cut(text) {
			if strings.TrimSpace(w) == "" {
				t.Errorf("Cut(%q) has a blank word", text)
			}
		}
	}
}

func TestConcurrentCut(t *testing.T) {
	s, err := withPlaces()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"华山南路马向路至印山东路一段", "阳湖花园12栋3单元楼梯间3楼窗户脱落", "小区门口没路灯、绿地上面有人种菜"}
	want := make([][]string, len(texts))
	for i, text := range texts {
		want[i] = s.Cut(text)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(texts)
				if got := s.Cut(texts[k]); !slices.Equal(got, want[k]) {
					t.Errorf("concurrent Cut(%q) = %q, want %q", texts[k], got, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

const benchText = "大厦楼顶安装的强光广告牌，距离马鞍山市花山区东方城二区16栋不足20米，一直亮到夜间近11点，" +
	"周边居民的生活受到影响。菜地七零八落、塑料垃圾乱披乱挂、建筑物料随意堆放，马鞍山市华山南路马向路至印山东路一段过去十分脏乱。"

// BenchmarkNew is a new Segmenter once the process has the table: the cost
// of a rule reload that changes the places.
func BenchmarkNew(b *testing.B) {
	words := gazetteerWords(b)
	if _, err := segment.New(words); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := segment.New(words); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStartup is the time from process start until the first text is
// cut, and the live heap then, in a fresh process each time: "cold" builds
// the table (no cache dir), "cached" reads the cache file, "gse" is gse's
// own loader with the same user words (the wrapper this package replaced).
func BenchmarkStartup(b *testing.B) {
	dir := b.TempDir()
	for _, mode := range []string{"cold", "cached", "gse"} {
		b.Run(mode, func(b *testing.B) {
			env := append(os.Environ(), "MSB_SEGMENT_STARTUP="+mode)
			if mode == "cached" {
				env = append(env, "MSB_SEGMENT_CACHE="+dir)
				if _, err := segment.NewCached(dir, nil); err != nil {
					b.Fatal(err)
				}
			}
			var heap float64
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = env
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("%s start: %v", mode, err)
				}
				first, _, _ := strings.Cut(string(out), "\n")
				if heap, err = strconv.ParseFloat(first, 64); err != nil {
					b.Fatalf("%s start printed %q", mode, out)
				}
			}
			b.ReportMetric(heap, "heap-MB")
		})
	}
}

// TestStartupCache starts fresh processes on one cache directory, as the
// daemon starts on its data directory: the first builds the table and
// writes the cache, the next reads it without a word in the log, one after
// the file was damaged rebuilds and rewrites it, and all cut alike.
func TestStartupCache(t *testing.T) {
	g, err := gazetteer.New(nil) // the words startup gives its segmenter
	if err != nil {
		t.Fatal(err)
	}
	s, err := segment.NewCached(cacheDir(), g.Words())
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(s.Cut(benchText), " ")
	dir := t.TempDir()
	tests := []struct {
		name    string
		before  func(t *testing.T)
		wantLog string // "" for none
	}{
		{"empty cache directory", func(*testing.T) {}, "segment dictionary cache written"},
		{"cache file present", func(*testing.T) {}, ""},
		{"cache file damaged", func(t *testing.T) {
			if err := os.WriteFile(segment.CacheFile(dir), []byte("damaged"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "segment dictionary cache unusable, rebuilding"},
		{"cache file present again", func(*testing.T) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.before(t)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "MSB_SEGMENT_STARTUP=cached", "MSB_SEGMENT_CACHE="+dir)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("start: %v\n%s", err, stderr.String())
			}
			if (tt.wantLog == "" && stderr.Len() != 0) || !strings.Contains(stderr.String(), tt.wantLog) {
				t.Errorf("log %q, want %q", stderr.String(), tt.wantLog)
			}
			_, got, _ := strings.Cut(strings.TrimSuffix(string(out), "\n"), "\n")
			if got != want {
				t.Errorf("the started process cut %q, want %q", got, want)
			}
			if _, err := os.Stat(segment.CacheFile(dir)); err != nil {
				t.Errorf("no cache file after start: %v", err)
			}
		})
	}
}

func BenchmarkCut(b *testing.B) {
	s, err := withPlaces()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		s.Cut(benchText)
	}
}
