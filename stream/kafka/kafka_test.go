package kafka

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/streamtest"
)

// newCluster starts an in-process Kafka-protocol broker for one test.
func newCluster(t testing.TB, brokers int) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func testOptions(c *kfake.Cluster) Options {
	return Options{
		Brokers:           c.ListenAddrs(),
		TopicPrefix:       "mashangban.",
		Partitions:        3,
		MinBackoff:        10 * time.Millisecond,
		MaxBackoff:        50 * time.Millisecond,
		HeartbeatInterval: 200 * time.Millisecond,
		JoinGroupBackoff:  100 * time.Millisecond,
		FetchMaxWait:      100 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
	}
}

func openTest(t testing.TB, opts Options) *Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func TestContract(t *testing.T) {
	streamtest.Run(t, streamtest.Backend{
		Partitions: 3,
		New: func(t *testing.T) func(t *testing.T) stream.Log {
			c := newCluster(t, 1)
			return func(t *testing.T) stream.Log { return openTest(t, testOptions(c)) }
		},
	})
}

func TestMetrics(t *testing.T) {
	streamtest.Metrics(t, func(t *testing.T, reg prometheus.Registerer) stream.Log {
		opts := testOptions(newCluster(t, 1))
		opts.Registerer = reg
		return openTest(t, opts)
	})
}
