package streamtest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/mashangban/mashangban/stream"
)

// benchValue is the size of a typical post as JSON with the platform's raw body.
var benchValue = make([]byte, 1024)

// BenchPublish measures Publish of batch messages per call (keys spread over
// 64 posts), sequentially and from 16 goroutines at once. open returns a
// fresh, empty Log.
func BenchPublish(b *testing.B, open func(b *testing.B) stream.Log) {
	for _, bc := range []struct {
		name     string
		batch    int
		parallel bool
	}{
		{"batch=1", 1, false},
		{"batch=100", 100, false},
		{"batch=1/parallel=16", 1, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := open(b)
			defer l.Close()
			ctx := context.Background()
			var n atomic.Int64
			publish := func() {
				ms := make([]stream.Message, bc.batch)
				for i := range ms {
					ms[i] = stream.Message{Key: []byte("weibo:" + strconv.Itoa(int(n.Add(1)%64))), Value: benchValue}
				}
				if err := l.Publish(ctx, stream.TopicPosts, ms...); err != nil {
					b.Error(err)
				}
			}
			b.SetBytes(int64(bc.batch * len(benchValue)))
			b.ResetTimer()
			if bc.parallel {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						publish()
					}
				})
			} else {
				for b.Loop() {
					publish()
				}
			}
			b.ReportMetric(float64(b.N*bc.batch)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchConsume measures Consume with a handler that does nothing: delivery
// plus the commit after every message. open returns a fresh, empty Log.
func BenchConsume(b *testing.B, open func(b *testing.B) stream.Log) {
	l := open(b)
	defer l.Close()
	ctx := context.Background()
	const batch = 500
	for i := 0; i < b.N; i += batch {
		ms := make([]stream.Message, min(batch, b.N-i))
		for j := range ms {
			ms[j] = stream.Message{Key: []byte("weibo:" + strconv.Itoa((i+j)%64)), Value: benchValue}
		}
		if err := l.Publish(ctx, stream.TopicPosts, ms...); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(benchValue)))
	b.ResetTimer()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var seen atomic.Int64
	err := l.Consume(cctx, stream.TopicPosts, "bench", func(context.Context, stream.Message) error {
		if seen.Add(1) == int64(b.N) {
			cancel()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
