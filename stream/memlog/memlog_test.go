package memlog

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/streamtest"
)

func testOptions() Options {
	return Options{Partitions: 3, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
}

func openTest(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	return l
}

func TestContract(t *testing.T) {
	streamtest.Run(t, streamtest.Backend{
		Partitions: 3,
		New: func(t *testing.T) func(t *testing.T) stream.Log {
			dir := t.TempDir()
			return func(t *testing.T) stream.Log { return openTest(t, dir, testOptions()) }
		},
	})
}

func TestMetrics(t *testing.T) {
	streamtest.Metrics(t, func(t *testing.T, reg prometheus.Registerer) stream.Log {
		opts := testOptions()
		opts.Registerer = reg
		return openTest(t, t.TempDir(), opts)
	})
}

func TestThrowawayLog(t *testing.T) {
	l, err := Open("", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := l.dir
	publishValues(t, l, "posts", "a", "b")
	if got := valuesOf(consumeN(t, l, "posts", "g", 2)); got != "a,b" {
		t.Errorf("delivered %s", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s still there after Close: %v", dir, err)
	}
}
