package kafka

import (
	"testing"

	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/streamtest"
)

func openBench(b *testing.B) stream.Log {
	return openTest(b, testOptions(newCluster(b, 1)))
}

func BenchmarkPublish(b *testing.B) { streamtest.BenchPublish(b, openBench) }

func BenchmarkConsume(b *testing.B) { streamtest.BenchConsume(b, openBench) }
