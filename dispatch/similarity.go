package dispatch

import (
	"hash/fnv"
	"math/bits"
	"strings"
	"unicode"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// stopwords are words that say nothing about which problem a post is about.
// Place names are not here: they are removed per post from the decision's
// place matches, because the place is compared on its own.
var stopwords = map[string]bool{
	"的": true, "了": true, "是": true, "在": true, "有": true, "和": true, "与": true,
	"也": true, "都": true, "就": true, "还": true, "很": true, "又": true, "着": true,
	"我": true, "我们": true, "你": true, "你们": true, "他": true, "她": true, "它": true,
	"这": true, "那": true, "这个": true, "那个": true, "这里": true, "那里": true, "一个": true,
	"请": true, "麻烦": true, "希望": true, "能": true, "能否": true, "能不能": true, "可以": true,
	"一下": true, "谢谢": true, "感谢": true, "您好": true, "你好": true, "相关": true, "部门": true,
	"马上办": true, "反映": true, "问题": true, "市民": true, "现在": true, "已经": true, "一直": true,
	"好": true, "吧": true, "吗": true, "呢": true, "啊": true, "呀": true, "么": true, "把": true,
	"被": true, "给": true, "让": true, "对": true, "从": true, "到": true, "要": true, "会": true,
	"什么": true, "怎么": true, "为什么": true, "多次": true, "尽快": true, "处理": true, "解决": true,
	// Words that set the scene of almost any complaint rather than name the problem.
	"晚上": true, "白天": true, "每天": true, "天天": true, "门口": true, "小区": true, "附近": true,
	"对面": true, "楼下": true, "旁边": true, "路口": true, "几天": true, "好几天": true, "很多": true,
	"天": true, "太": true, "非常": true, "严重": true, "危险": true, "影响": true, "没人": true,
}

// contentWords reduces a decision's tokens to the set that says what the
// problem is: no punctuation, no stopwords, no place names (places are
// compared separately), each word once.
func contentWords(tokens []string, places []model.PlaceMatch) []string {
	skip := make(map[string]bool, len(places))
	for _, p := range places {
		skip[p.Text] = true
	}
	seen := make(map[string]bool, len(tokens))
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		t = strings.TrimSpace(t)
		if t == "" || stopwords[t] || skip[t] || seen[t] || !hasLetter(t) {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// hasLetter reports whether w has a letter or digit (punctuation-only tokens
// and emoji are dropped).
func hasLetter(w string) bool {
	for _, r := range w {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// jaccard is |a∩b| / |a∪b| over two word sets (each word once per slice).
func jaccard(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	in := make(map[string]bool, len(a))
	for _, w := range a {
		in[w] = true
	}
	common := 0
	for _, w := range b {
		if in[w] {
			common++
		}
	}
	return float64(common) / float64(len(a)+len(b)-common)
}

// simHash is Charikar's 64-bit SimHash over the words, each weighted 1.
// Near-identical texts (reposts, copy-paste with a word changed) land within
// a few bits of each other. It is stored as a signed int64 because both
// stores' BIGINT is signed.
func simHash(words []string) int64 {
	if len(words) == 0 {
		return 0
	}
	var v [64]int
	for _, w := range words {
		h := fnv.New64a()
		h.Write([]byte(w))
		x := h.Sum64()
		for i := range 64 {
			if x&(1<<uint(i)) != 0 {
				v[i]++
			} else {
				v[i]--
			}
		}
	}
	var out uint64
	for i := range 64 {
		if v[i] > 0 {
			out |= 1 << uint(i)
		}
	}
	return int64(out)
}

// hamming is the number of differing bits of two SimHashes.
func hamming(a, b int64) int { return bits.OnesCount64(uint64(a ^ b)) }

// placeKey names the most specific place a decision found, e.g.
// "compound:东方城二区"; "" when none finer than a district is known.
func placeKey(places []model.PlaceMatch) string {
	rank := map[string]int{"compound": 5, "landmark": 4, "road": 3, "community": 2, "street": 1}
	best, bestRank := "", 0
	for _, p := range places {
		if r := rank[p.Kind]; r > bestRank {
			best, bestRank = p.Kind+":"+p.Text, r
		}
	}
	return best
}

// specificPlace reports whether a place key names a place small enough that
// one category of problem there is one job: a compound or a landmark.
func specificPlace(key string) bool {
	return strings.HasPrefix(key, "compound:") || strings.HasPrefix(key, "landmark:")
}

// Repeat thresholds; see docs/architecture.md for the examples they
// were chosen from.
const (
	// ThresholdSamePlace is the score two posts at the same known place
	// need to be one problem.
	ThresholdSamePlace = 0.18
	// ThresholdNoPlace is the score needed when either post names no place
	// finer than the district.
	ThresholdNoPlace = 0.45
	// nearDuplicateBits is the SimHash distance under which two posts of
	// nearDuplicateWords words or more are the same text.
	nearDuplicateBits  = 3
	nearDuplicateWords = 4
)

// fingerprint is what repeat detection keeps of a post: the content words,
// their SimHash, the finest place and the category.
type fingerprint struct {
	Words    []string
	SimHash  int64
	Place    string
	Category string
}

func fingerprintOf(dec model.Decision) fingerprint {
	w := contentWords(dec.Tokens, dec.Explanation.Places)
	return fingerprint{Words: w, SimHash: simHash(w), Place: placeKey(dec.Explanation.Places), Category: dec.Category}
}

// score is how alike two posts' words are: the larger of the word and the
// character-bigram Jaccard indices.
func score(a, b []string) float64 {
	return max(jaccard(a, b), jaccard(store.CharBigrams(a), store.CharBigrams(b)))
}

// isRepeat decides whether the post with fingerprint n reports the same
// problem as the open case with fingerprint c (same district and window are
// checked by the caller). Different known places or different known
// categories are never a repeat; otherwise the score must reach the threshold
// for what is known about the place, or the texts must be near-duplicates.
func isRepeat(n, c fingerprint) (bool, float64) {
	if n.Place != "" && c.Place != "" && n.Place != c.Place {
		return false, 0
	}
	if n.Category != "" && c.Category != "" && n.Category != c.Category {
		return false, 0
	}
	s := score(n.Words, c.Words)
	if len(n.Words) >= nearDuplicateWords && len(c.Words) >= nearDuplicateWords && hamming(n.SimHash, c.SimHash) <= nearDuplicateBits {
		return true, s
	}
	if n.Place != "" && n.Place == c.Place {
		if n.Category != "" && n.Category == c.Category && specificPlace(n.Place) {
			return true, s
		}
		return s >= ThresholdSamePlace, s
	}
	return s >= ThresholdNoPlace, s
}
