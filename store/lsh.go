package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
)

// Repeat detection finds its candidates through case_lsh: a few index keys
// per open case, each a (band, bucket) pair, and a lookup with the same keys
// computed from the new post. The keys are chosen so that every rule of the
// repeat decision (dispatch/similarity.go) has a way in:
//
//   - bands 0–7: MinHash of the content words, two values per band (LSH);
//     posts with a word Jaccard index of 0.45 share a band with probability
//     0.84, of 0.6 with 0.97;
//   - bands 8–15: the same over the words' character bigrams, which catch a
//     word cut differently by the segmenter;
//   - bands 16 and 21: the finest place, alone and with the category, so
//     that every open case at the same place whose category is not a
//     different one is a candidate (the same-place rules need no shared
//     words at all): a post with a category looks up its place with its
//     category and with none, a post without one its place alone;
//   - bands 17–20: the four 16-bit blocks of the SimHash; two SimHashes
//     within 3 bits agree on at least one block, so every near-duplicate is
//     a candidate.
//
// Every bucket also hashes the district: a lookup reads only buckets of its
// own district. Keys are written when a case opens (or reopens) and removed
// when it is resolved, so the table holds open cases only.
const (
	lshRows        = 2
	lshWordBands   = 8
	lshBigramBands = 8
	bandWords      = 0
	bandBigrams    = bandWords + lshWordBands
	bandPlace      = bandBigrams + lshBigramBands
	bandSimHash    = bandPlace + 1 // four bands
	bandPlaceCat   = bandSimHash + 4
)

// lshKey is one row of case_lsh without its case.
type lshKey struct {
	band   int
	bucket int64
}

// RepeatProbe is what a lookup of repeat candidates knows of a post: the
// same fields a case keeps for repeat detection.
type RepeatProbe struct {
	District string
	Tokens   []string // content words
	SimHash  int64
	Place    string // finest place key, "" when none
	Category string
}

// repeatKeys returns the case_lsh keys of a case (lookup false) or the keys
// a post looks up (lookup true); none without a district (repeats are only
// looked for within one).
func repeatKeys(p RepeatProbe, lookup bool) []lshKey {
	if p.District == "" {
		return nil
	}
	var keys []lshKey
	keys = append(keys, minHashBands(p.District, bandWords, lshWordBands, p.Tokens)...)
	keys = append(keys, minHashBands(p.District, bandBigrams, lshBigramBands, CharBigrams(p.Tokens))...)
	if p.Place != "" {
		switch {
		case !lookup:
			keys = append(keys, lshKey{bandPlace, bucketHash(p.District, bandPlace, p.Place)},
				lshKey{bandPlaceCat, bucketHash(p.District, bandPlaceCat, p.Place, p.Category)})
		case p.Category != "":
			keys = append(keys, lshKey{bandPlaceCat, bucketHash(p.District, bandPlaceCat, p.Place, p.Category)},
				lshKey{bandPlaceCat, bucketHash(p.District, bandPlaceCat, p.Place, "")})
		default:
			keys = append(keys, lshKey{bandPlace, bucketHash(p.District, bandPlace, p.Place)})
		}
	}
	if len(p.Tokens) > 0 {
		for i := range 4 {
			block := uint64(p.SimHash) >> (16 * uint(i)) & 0xffff
			keys = append(keys, lshKey{bandSimHash + i, bucketHash(p.District, bandSimHash+i, block)})
		}
	}
	return keys
}

// minHashBands computes bands×lshRows MinHash values of the set and hashes
// each band's values into one bucket.
func minHashBands(district string, first, bands int, set []string) []lshKey {
	if len(set) == 0 {
		return nil
	}
	n := bands * lshRows
	mins := make([]uint64, n)
	for i := range mins {
		mins[i] = ^uint64(0)
	}
	for _, s := range set {
		base := fnv64(s)
		for i := range n {
			if h := splitmix64(base + uint64(i+1)*0x9e3779b97f4a7c15); h < mins[i] {
				mins[i] = h
			}
		}
	}
	keys := make([]lshKey, bands)
	for b := range bands {
		band := first + b
		keys[b] = lshKey{band, bucketHash(district, band, mins[b*lshRows], mins[b*lshRows+1])}
	}
	return keys
}

// bucketHash hashes the district, the band and the values into a bucket.
func bucketHash[V string | uint64](district string, band int, vals ...V) int64 {
	h := fnv.New64a()
	var buf [8]byte
	h.Write([]byte(district))
	binary.LittleEndian.PutUint64(buf[:], uint64(band))
	h.Write(buf[:])
	for _, v := range vals {
		switch x := any(v).(type) {
		case string:
			h.Write([]byte{0})
			h.Write([]byte(x))
		case uint64:
			binary.LittleEndian.PutUint64(buf[:], x)
			h.Write(buf[:])
		}
	}
	return int64(h.Sum64())
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// splitmix64 is a fast, well-mixed 64-bit permutation.
func splitmix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// CharBigrams are the two-character pieces of the words (one-character
// words whole), each once. They catch the same word cut differently by the
// segmenter ("路灯不亮" as 路/灯不亮 in one post and 路灯/不亮 in another):
// dispatch scores repeats with them and the repeat index bands them.
func CharBigrams(words []string) []string {
	seen := make(map[string]bool)
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, w := range words {
		r := []rune(w)
		if len(r) == 1 {
			add(w)
			continue
		}
		for i := 0; i+1 < len(r); i++ {
			add(string(r[i : i+2]))
		}
	}
	return out
}

// insertRepeatKeys writes the case_lsh rows of case id.
func (s *Store) insertRepeatKeys(ctx context.Context, q Querier, id int64, p RepeatProbe) error {
	keys := repeatKeys(p, false)
	if len(keys) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO case_lsh (band, bucket, case_id) VALUES ")
	args := make([]any, 0, 3*len(keys))
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
		args = append(args, k.band, k.bucket, id)
	}
	// Two bands of one case can never share a row, but a case reopened by a
	// retried transaction may already have its keys.
	sb.WriteString(" ON CONFLICT DO NOTHING")
	if _, err := s.querier(q).Exec(ctx, sb.String(), args...); err != nil {
		return fmt.Errorf("index case %d for repeats: %w", id, err)
	}
	return nil
}

// reindexCase rewrites case id's case_lsh rows from the case as stored: none
// unless it is open.
func (s *Store) reindexCase(ctx context.Context, q Querier, id int64) error {
	q = s.querier(q)
	if _, err := q.Exec(ctx, `DELETE FROM case_lsh WHERE case_id = $1`, id); err != nil {
		return fmt.Errorf("unindex case %d: %w", id, err)
	}
	var status, tokens string
	var p RepeatProbe
	err := q.QueryRow(ctx, `
		SELECT status, district, simhash, tokens, place, category
		FROM cases
		WHERE id = $1`, id).Scan(&status, &p.District, &p.SimHash, &tokens, &p.Place, &p.Category)
	if err != nil {
		return fmt.Errorf("index case %d for repeats: %w", id, err)
	}
	if status != "open" {
		return nil
	}
	if err := json.Unmarshal([]byte(tokens), &p.Tokens); err != nil {
		return fmt.Errorf("index case %d for repeats: tokens: %w", id, err)
	}
	return s.insertRepeatKeys(ctx, q, id, p)
}

// backfillRepeatKeys indexes every open case (migration 0005, which
// creates case_lsh).
func (s *Store) backfillRepeatKeys(ctx context.Context, q Querier) error {
	rows, err := q.Query(ctx, `
		SELECT id, district, simhash, tokens, place, category
		FROM cases
		WHERE status = 'open'`)
	if err != nil {
		return fmt.Errorf("index open cases for repeats: %w", err)
	}
	type row struct {
		id int64
		p  RepeatProbe
	}
	all, err := collectRows(rows, func(r scanner) (row, error) {
		var x row
		var tokens string
		if err := r.Scan(&x.id, &x.p.District, &x.p.SimHash, &tokens, &x.p.Place, &x.p.Category); err != nil {
			return x, err
		}
		if err := json.Unmarshal([]byte(tokens), &x.p.Tokens); err != nil {
			return x, fmt.Errorf("case %d tokens: %w", x.id, err)
		}
		return x, nil
	})
	if err != nil {
		return fmt.Errorf("index open cases for repeats: %w", err)
	}
	for _, x := range all {
		if err := s.insertRepeatKeys(ctx, q, x.id, x.p); err != nil {
			return err
		}
	}
	return nil
}
