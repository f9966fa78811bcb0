package segment

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A small dictionary in gse's format, with the cases its loader treats specially.
const smallDict = `路灯 500 n
路 100 n
灯 80 n
坏 50 v
了 900 ul
山东 2000 ns
印 30 n
ABC店 5 nz
稀有词 1 n
没有频率
路灯 3 v
`

func TestBuildDict(t *testing.T) {
	d, err := buildDict(smallDict)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		freq float64
		tag  string
		ok   bool
	}{
		{"路灯", 500, "n", true},   // the first of duplicate words wins
		{"路", 2, "n", true},      // single characters get frequency 2
		{"山东", 2000, "ns", true}, // multi-character words keep theirs
		{"abc店", 5, "nz", true},  // ASCII letters lowered, as gse does
		{"ab", 0, "", true},      // a prefix: found, no frequency
		{"山", 0, "", true},
		{"ABC店", 0, "", false}, // keys are lowered
		{"稀有词", 0, "", false},  // rarer than 2: skipped
		{"稀有", 0, "", false},   // so are its prefixes
		{"没有频率", 0, "", false}, // no frequency: skipped
		{"东", 0, "", false},
	}
	for _, tt := range tests {
		f, tag, ok := d.lookup(tt.key)
		if f != tt.freq || tag != tt.tag || ok != tt.ok {
			t.Errorf("lookup(%q) = %v %q %v, want %v %q %v", tt.key, f, tag, ok, tt.freq, tt.tag, tt.ok)
		}
	}
	if want := 500.0 + 2 + 2 + 2 + 2 + 2000 + 2 + 5; d.total != want {
		t.Errorf("total %v, want %v", d.total, want)
	}
	if _, err := buildDict(""); err == nil {
		t.Error("an empty dictionary built")
	}
}

// The table grows past its first size and keeps every word.
func TestBuildDictGrows(t *testing.T) {
	var b strings.Builder
	var words []string
	for i := range 5000 {
		w := "词" + string(rune(0x4e00+i%1000)) + string(rune(0x4e00+i/1000)) + "尾"
		words = append(words, w)
		b.WriteString(w + " 7 n\n")
	}
	d, err := buildDict(b.String())
	if err != nil {
		t.Fatal(err)
	}
	// 5,000 lines start at 16,384 slots; with the prefixes (词, 词X, 词XY)
	// there are over 11,000 entries, more than half full.
	if d.mask+1 <= 16384 {
		t.Fatalf("table did not grow: %d slots", d.mask+1)
	}
	for _, w := range words {
		if f, _, ok := d.lookup(w); !ok || f != 7 {
			t.Fatalf("lookup(%q) = %v %v after growing", w, f, ok)
		}
	}
}

func TestDictCache(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	load := func() *dict {
		t.Helper()
		logs.Reset()
		d, err := loadDict(dir, smallDict, logger)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Tables of other dictionaries (an earlier release's, and one named as
	// before the dictionary was copied from gse) go when the table is
	// written; other files stay.
	stale := []string{"zh_s-00000000.dict", "gse-v0.80.3-zh_s-1a2b3c4d.dict"}
	for _, name := range append(stale, "notes.txt") {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first := load()
	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("stale cache %s not removed", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("an unrelated file was removed: %v", err)
	}
	path := cacheFile(dir, smallDict)
	data, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(data, first.data) {
		t.Fatalf("cache file not written with the table: %v", err)
	}
	if !strings.Contains(logs.String(), "cache written") {
		t.Errorf("no log of the write: %s", logs.String())
	}
	if second := load(); logs.Len() != 0 || !bytes.Equal(second.data, first.data) {
		t.Errorf("second load did not read the cache quietly: %s", logs.String())
	}

	other, err := buildDict("别的 10 n\n")
	if err != nil {
		t.Fatal(err)
	}
	damages := map[string][]byte{
		"flipped byte":         func() []byte { b := slices.Clone(data); b[len(b)/2] ^= 0xff; return b }(),
		"truncated":            data[:len(data)/3],
		"not a dictionary":     []byte("not a dictionary"),
		"empty":                {},
		"another dictionary's": other.data,
	}
	for name, bad := range damages {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			d := load()
			if !strings.Contains(logs.String(), "unusable") {
				t.Errorf("damaged cache not reported: %s", logs.String())
			}
			if !bytes.Equal(d.data, first.data) {
				t.Error("rebuilt table differs")
			}
			if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
				t.Error("damaged cache not rewritten")
			}
		})
	}

	// An unwritable cache directory is logged, not an error.
	blocked := filepath.Join(dir, "file")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if _, err := loadDict(filepath.Join(blocked, "sub"), smallDict, logger); err != nil {
		t.Fatalf("unwritable cache dir: %v", err)
	}
	if !strings.Contains(logs.String(), "not written") {
		t.Errorf("unwritable cache dir not reported: %s", logs.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("cache dir holds %d entries, want the table, notes.txt and the blocking file (no temporary files)", len(entries))
	}
}

// FuzzOpenDict: a cache file is read back without trusting it. The checksum
// is fixed up first, so that the structural checks behind it are reached.
func FuzzOpenDict(f *testing.F) {
	d, err := buildDict(smallDict)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(d.data)
	f.Add(d.data[:headerSize])
	f.Add([]byte(dictMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= headerSize {
			binary.LittleEndian.PutUint32(data[32:], checksum(data[headerSize:]))
		}
		d, err := openDict(data)
		if err != nil {
			return
		}
		for _, k := range []string{"路灯", "路", "abc店", "", "不在"} {
			d.lookup(k)
		}
	})
}
