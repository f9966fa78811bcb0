package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// BenchmarkInsertPost measures one new post per operation, autocommit, on
// each dialect; "dup" measures the redelivery path (ON CONFLICT DO NOTHING).
func BenchmarkInsertPost(b *testing.B) {
	for _, open := range []struct {
		name string
		fn   func(testing.TB) *store.Store
	}{
		{"sqlite", openSQLiteDurable},           // production settings: an fsync per commit
		{"sqlite-nosync", storetest.OpenSQLite}, // as the tests run
		{"postgres", storetest.OpenPostgres},
	} {
		b.Run(open.name, func(b *testing.B) {
			s := open.fn(b)
			ctx := context.Background()
			p := samplePost("weibo:0")
			b.Run("new", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					p.ID = fmt.Sprintf("weibo:%d", i)
					if _, err := s.InsertPost(ctx, nil, p); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("dup", func(b *testing.B) {
				p.ID = "weibo:0"
				for b.Loop() {
					if ins, err := s.InsertPost(ctx, nil, p); err != nil || ins {
						b.Fatal(ins, err)
					}
				}
			})
			b.Run("new-in-tx-of-100", func(b *testing.B) {
				// ns/op is per post; one commit per 100 posts.
				for i := 0; b.Loop(); {
					err := s.DB.InTx(ctx, func(tx store.Tx) error {
						for j := 0; j < 100; j++ {
							p.ID = fmt.Sprintf("weibo:t%d-%d", i, j)
							if _, err := s.InsertPost(ctx, tx, p); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/post")
			})
			b.Run("new-parallel", func(b *testing.B) {
				var n int64
				b.RunParallel(func(pb *testing.PB) {
					q := p
					for pb.Next() {
						q.ID = fmt.Sprintf("weibo:p%d", atomicAdd(&n))
						if _, err := s.InsertPost(ctx, nil, q); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

func atomicAdd(n *int64) int64 { return atomic.AddInt64(n, 1) }

func openSQLiteDurable(tb testing.TB) *store.Store {
	s, err := store.Open(context.Background(), "sqlite:"+filepath.Join(tb.TempDir(), "bench.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}
