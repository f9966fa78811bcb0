package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/mashangban/mashangban/stream"
)

// TestBrokerVersions runs a publish, a consume, a restart and a resume
// against brokers that speak older Kafka protocol versions: kafka-go
// negotiates per request, and mashangban must work with the Kafka releases a
// city is likely to run. The default kfake speaks the newest versions (Kafka
// 4, which dropped several old request versions).
func TestBrokerVersions(t *testing.T) {
	tests := []struct {
		name     string
		versions *kversion.Versions
	}{
		{"kafka 2.8", kversion.V2_8_0()},
		{"kafka 3.9", kversion.V3_9_0()},
		{"kafka 4.0", kversion.V4_0_0()},
		{"kfake default", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.NumBrokers(1)}
			if tt.versions != nil {
				opts = append(opts, kfake.MaxVersions(tt.versions))
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			l := openTest(t, testOptions(c))
			publishAndRead(t, l) // group g handles and commits "v"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := l.Publish(ctx, stream.TopicPosts, stream.Message{Key: []byte("k"), Value: []byte("w")}); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			l = openTest(t, testOptions(c))
			defer l.Close()
			got := make(chan string, 2)
			cctx, stop := context.WithCancel(ctx)
			defer stop()
			go l.Consume(cctx, stream.TopicPosts, "g", func(_ context.Context, m stream.Message) error {
				got <- string(m.Value)
				return nil
			})
			select {
			case v := <-got:
				if v != "w" {
					t.Errorf("restarted group got %q first, want w (v was committed)", v)
				}
			case <-ctx.Done():
				t.Fatal("restarted group got nothing")
			}
		})
	}
}
