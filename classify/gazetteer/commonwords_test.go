//go:build !race

// This check reads gse's whole dictionary, which takes long under the race
// detector and has nothing concurrent in it, so it runs in normal builds only.

package gazetteer

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mashangban/mashangban/classify/segment"
)

var update = flag.Bool("update", false, "rewrite data/common_words.txt and golden files")

// handPicked are ordinary words that gse's dictionary lacks.
var handPicked = []string{"新农村"}

// handKept are short forms that name a district or town in 马鞍山 whatever
// gse's dictionary says (花山 is frequent, 博望 is tagged a verb).
var handKept = []string{"花山", "博望"}

// ordinary is the rule for short forms that are ordinary words: gse's
// dictionary knows the word and either uses it often (frequency 50 or more:
// 人民, 长江, 花园) or not as a noun (团结, 幸福, 一心).
func ordinary(seg *segment.Segmenter, w string) bool {
	if slices.Contains(handPicked, w) {
		return true
	}
	if slices.Contains(handKept, w) {
		return false
	}
	freq, pos, ok := seg.Lookup(w)
	return ok && (freq >= 50 || !strings.HasPrefix(pos, "n"))
}

// TestCommonWordsUpToDate checks data/common_words.txt against the rule in
// ordinary, applied to every short form with gse's embedded dictionary. Run
// with -update to rewrite it.
func TestCommonWordsUpToDate(t *testing.T) {
	seg, err := segment.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	divs, err := base()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, d := range divs {
		for _, f := range shortForms(d) {
			if !shortEnough(f.text) && ordinary(seg, f.text) {
				set[f.text] = true
			}
		}
	}
	var words []string
	for w := range set {
		words = append(words, w)
	}
	sort.Strings(words)
	var b strings.Builder
	b.WriteString("# Short forms of division names that are ordinary words and so are never\n")
	b.WriteString("# matched as places: gse's dictionary knows them with frequency 50 or more,\n")
	b.WriteString("# or not as a noun, or they are picked by hand (handPicked; handKept are never listed). Generated: go test ./classify/gazetteer -run TestCommonWordsUpToDate -update\n")
	for _, w := range words {
		freq, pos, _ := seg.Lookup(w)
		fmt.Fprintf(&b, "%s\t# %s %.0f\n", w, pos, freq)
	}
	want := b.String()
	if *update {
		if err := os.WriteFile("data/common_words.txt", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if commonWordsTxt != want {
		t.Errorf("data/common_words.txt is stale; run with -update. want:\n%s", want)
	}
}
