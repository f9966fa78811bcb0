package streamtest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mashangban/mashangban/stream"
)

// Metrics checks the mashangban_stream_* counters: open must return a Log
// on fresh storage that registers its metrics with reg.
func Metrics(t *testing.T, open func(t *testing.T, reg prometheus.Registerer) stream.Log) {
	reg := prometheus.NewPedanticRegistry()
	l := open(t, reg)
	defer l.Close()
	publish(t, l, stream.TopicPosts, msg("k", "a"), msg("k", "b"), msg("k", "c"))
	ch := make(chan stream.Message, 10)
	var failed atomic.Bool
	c := startConsume(t, l, stream.TopicPosts, "g", func(ctx context.Context, m stream.Message) error {
		if string(m.Value) == "b" && !failed.Swap(true) {
			return errors.New("store unavailable")
		}
		ch <- m
		return nil
	})
	receive(t, ch, 3)
	c.stop(t)

	tests := []struct {
		name string
		want float64
	}{
		{"mashangban_stream_published_messages_total", 3},
		{"mashangban_stream_handled_messages_total", 3},
		{"mashangban_stream_handler_errors_total", 1},
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, tt := range tests {
		var got float64
		for _, mf := range mfs {
			if mf.GetName() == tt.name {
				for _, m := range mf.GetMetric() {
					got += m.GetCounter().GetValue()
				}
			}
		}
		if got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
}
