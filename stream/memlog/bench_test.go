package memlog

import (
	"testing"

	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/streamtest"
)

func openBench(b *testing.B) stream.Log {
	l, err := Open(b.TempDir(), testOptions())
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkPublish(b *testing.B) { streamtest.BenchPublish(b, openBench) }

func BenchmarkConsume(b *testing.B) { streamtest.BenchConsume(b, openBench) }
