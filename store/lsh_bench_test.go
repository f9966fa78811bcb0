package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// The repeat-candidate benchmark's store: lshCases cases created evenly over
// the last lshDays days in six districts (about 16,700 a day). Cases of the
// last week (the repeat window, and the default time to close) are open, and
// one in twenty older ones; the rest are resolved. Words, places and categories are drawn with Zipf's law from a
// vocabulary of 3,000 two-character words, 2,000 places per district (a third
// of the posts name none) and 30 categories, 4 to 14 content words a post.
const lshDays = 60

// lshCases is 1,000,000 unless MSB_BENCH_CASES says otherwise (for a quick
// look at the lookup's profile).
var lshCases = int64(benchCases())

func benchCases() int {
	if n, err := strconv.Atoi(os.Getenv("MSB_BENCH_CASES")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

var lshNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

const lshHanzi = "路灯井盖垃圾噪音停车占道施工污水绿化违建广告扰民油烟漏水停电燃气电梯楼道窗户脱落破损积水堵塞塌陷臭味烧烤深夜凌晨车辆通行危险老人小孩学校医院公交站台栏杆树木修剪清运物业维修投诉多次没有答复"

type benchCase struct {
	id       int64
	no       string
	open     bool
	district string
	category string
	place    string
	tokens   []string
	simhash  int64
	created  time.Time
}

type caseGen struct {
	vocab               []string
	words, places, cats []float64 // Zipf cumulative distributions
}

// zipfCDF is the cumulative distribution of Zipf's law with exponent e over
// n ranks.
func zipfCDF(n int, e float64) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), e)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	return cdf
}

func draw(rng *rand.Rand, cdf []float64) int {
	i, _ := slices.BinarySearch(cdf, rng.Float64())
	return min(i, len(cdf)-1)
}

func newCaseGen() *caseGen {
	r := []rune(lshHanzi)
	g := &caseGen{words: zipfCDF(3000, 1.0), places: zipfCDF(2000, 1.0), cats: zipfCDF(30, 1.0)}
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for len(g.vocab) < 3000 {
		w := string([]rune{r[rng.IntN(len(r))], r[rng.IntN(len(r))]})
		if !seen[w] {
			seen[w] = true
			g.vocab = append(g.vocab, w)
		}
	}
	return g
}

// gen returns case i (1-based; 1 is the newest), the same on every call.
// A resolved case is written without its words: nothing reads them.
func (g *caseGen) gen(i int64) benchCase {
	rng := rand.New(rand.NewPCG(7, uint64(i)))
	age := time.Duration(i) * (lshDays * 24 * time.Hour / time.Duration(lshCases))
	c := benchCase{
		id:       i,
		no:       fmt.Sprintf("MSB-B-%07d", i),
		district: fmt.Sprintf("34050%d", i%6),
		created:  lshNow.Add(-age),
	}
	c.open = age < 7*24*time.Hour || rng.IntN(20) == 0
	if !c.open {
		return c
	}
	c.category = fmt.Sprintf("cat%d", draw(rng, g.cats))
	if rng.IntN(3) > 0 {
		c.place = fmt.Sprintf("compound:小区%d", draw(rng, g.places))
	}
	n := 4 + rng.IntN(11)
	for len(c.tokens) < n {
		w := g.vocab[draw(rng, g.words)]
		if !slices.Contains(c.tokens, w) {
			c.tokens = append(c.tokens, w)
		}
	}
	h := fnv.New64a()
	h.Write([]byte(strings.Join(c.tokens, " ")))
	c.simhash = int64(h.Sum64())
	return c
}

// fillRepeatStore writes the benchmark's cases and their index rows with
// multi-row inserts, 20,000 cases a transaction.
func fillRepeatStore(b *testing.B, s *store.Store, g *caseGen) {
	ctx := context.Background()
	const perTx, perStmt = 20_000, 40
	t0 := time.Now()
	for lo := int64(1); lo <= lshCases; lo += perTx {
		err := s.DB.InTx(ctx, func(tx store.Tx) error {
			for s0 := lo; s0 < lo+perTx && s0 <= lshCases; s0 += perStmt {
				var cs []benchCase
				for i := s0; i < s0+perStmt && i <= lshCases; i++ {
					cs = append(cs, g.gen(i))
				}
				if err := insertBenchCases(ctx, tx, cs); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("wrote %d cases in %s", lshCases, time.Since(t0).Round(time.Second))
}

func insertBenchCases(ctx context.Context, tx store.Tx, cs []benchCase) error {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO cases (id, case_no, status, district, districts, category, lead, summary, first_post_id, simhash, tokens, place, created_at, updated_at) VALUES `)
	var args []any
	for i, c := range cs {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, '[]', $%d, 'cgj', '', $%d, $%d, $%d, $%d, $%d, $%d)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+10)
		status := "resolved"
		if c.open {
			status = "open"
		}
		tokens, _ := json.Marshal(c.tokens)
		args = append(args, c.id, c.no, status, c.district, c.category, "replay:"+c.no, c.simhash, string(tokens), c.place, c.created)
	}
	if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
		return err
	}
	sb.Reset()
	args = args[:0]
	sb.WriteString(`INSERT INTO case_lsh (band, bucket, case_id) VALUES `)
	for _, c := range cs {
		if !c.open {
			continue
		}
		for _, k := range store.RepeatKeysForTest(store.RepeatProbe{District: c.district, Tokens: c.tokens, SimHash: c.simhash, Place: c.place, Category: c.category}) {
			if len(args) > 0 {
				sb.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&sb, "($%d, $%d, $%d)", n+1, n+2, n+3)
			args = append(args, k[0], k[1], c.id)
		}
	}
	if len(args) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, sb.String(), args...)
	return err
}

// BenchmarkRepeatCandidates measures one repeat-candidate lookup (the index
// query and the decoding of the candidates) in a store of 1,000,000 cases,
// on SQLite and, with TEST_DATABASE_URL set, PostgreSQL. Half the probes are
// a reworded repeat of an open case of the window (two words replaced,
// another SimHash, the same place), half a new problem (random words, no
// place). It reports the p50 and p99 of the lookups and the mean
// number of candidates. Building the store takes a minute or more.
func BenchmarkRepeatCandidates(b *testing.B) {
	g := newCaseGen()
	for _, open := range []struct {
		name string
		fn   func(testing.TB) *store.Store
	}{
		{"sqlite", openSQLiteBench},
		{"postgres", storetest.OpenPostgres},
	} {
		b.Run(open.name, func(b *testing.B) {
			s := open.fn(b)
			fillRepeatStore(b, s, g)
			b.Run("lookup", func(b *testing.B) {
				ctx := context.Background()
				rng := rand.New(rand.NewPCG(3, 4))
				inWindow := lshCases * 7 / lshDays
				var lat, cpu []time.Duration
				var ncands []int
				// The driver runs the query on the calling goroutine; locked
				// to its thread, the thread's CPU time is the lookup's own,
				// without the time a loaded machine kept it waiting.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				found, repeats, cands := 0, 0, 0
				for b.Loop() {
					var p benchCase
					var want int64
					if rng.IntN(2) == 0 {
						p = g.gen(1 + rng.Int64N(inWindow))
						want = p.id
						repeats++
						p.tokens = slices.Clone(p.tokens)
						for range 2 {
							p.tokens[rng.IntN(len(p.tokens))] = g.vocab[rng.IntN(len(g.vocab))]
						}
						p.simhash = rng.Int64() // reworded: another SimHash
					} else {
						p = g.gen(1 + rng.Int64N(inWindow))
						p.place = ""
						for i := range p.tokens {
							p.tokens[i] = g.vocab[rng.IntN(len(g.vocab))]
						}
						p.simhash = rng.Int64()
					}
					t, c0 := time.Now(), threadCPU()
					cs, err := s.RepeatCandidates(ctx, nil, store.RepeatProbe{District: p.district, Tokens: p.tokens, SimHash: p.simhash, Place: p.place, Category: p.category},
						lshNow.Add(-7*24*time.Hour), 500)
					lat = append(lat, time.Since(t))
					cpu = append(cpu, threadCPU()-c0)
					if err != nil {
						b.Fatal(err)
					}
					cands += len(cs)
					ncands = append(ncands, len(cs))
					for _, c := range cs {
						if want != 0 && c.ID == want {
							found++
						}
					}
				}
				slices.Sort(lat)
				slices.Sort(cpu)
				slices.Sort(ncands)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(cpu[len(cpu)/2].Microseconds())/1000, "cpu-p50-ms")
				b.ReportMetric(float64(cpu[len(cpu)*99/100].Microseconds())/1000, "cpu-p99-ms")
				b.ReportMetric(float64(ncands[len(ncands)*99/100]), "p99-candidates")
				b.ReportMetric(float64(cands)/float64(len(lat)), "candidates/op")
				if repeats > 0 {
					b.ReportMetric(float64(found)/float64(repeats), "found-open-case")
				}
			})
		})
	}
}

// openSQLiteBench is a migrated SQLite store with the production settings
// except the fsync per commit (which lookups do not do) and with a page
// cache of 256 MiB so that the bulk load is not bound by the disk.
func openSQLiteBench(tb testing.TB) *store.Store {
	s, err := store.Open(context.Background(), "sqlite:"+filepath.Join(tb.TempDir(), "bench.db")+"?_pragma=synchronous(OFF)&_pragma=cache_size(-262144)", nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}
