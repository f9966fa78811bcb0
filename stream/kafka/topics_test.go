package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mashangban/mashangban/stream"
)

// partitionsOf reads a topic's partitions and replica counts from a broker.
// It uses a plain connection: kafka-go's Client answers metadata requests
// from its transport's cache.
func partitionsOf(t *testing.T, c *kfake.Cluster, topic string) (partitions, replicas int) {
	t.Helper()
	conn, err := kafkago.Dial("tcp", c.ListenAddrs()[0])
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	ps, err := conn.ReadPartitions(topic)
	if errors.Is(err, kafkago.UnknownTopicOrPartition) {
		return 0, 0
	}
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	for _, p := range ps {
		replicas = len(p.Replicas)
	}
	return len(ps), replicas
}

func TestOpenCreatesTopics(t *testing.T) {
	tests := []struct {
		name         string
		brokers      int
		seed         []kfake.Opt
		partitions   int
		replication  int
		wantErr      string
		wantParts    int
		wantReplicas int
	}{
		{name: "one broker", brokers: 1, partitions: 3, replication: 1, wantParts: 3, wantReplicas: 1},
		{name: "three replicas", brokers: 3, partitions: 6, replication: 3, wantParts: 6, wantReplicas: 3},
		{name: "existing topic kept", brokers: 1, seed: []kfake.Opt{kfake.SeedTopics(2, "mashangban.posts")},
			partitions: 3, replication: 1, wantParts: 2, wantReplicas: 1},
		{name: "more replicas than brokers", brokers: 1, partitions: 3, replication: 3,
			wantErr: `create topic "mashangban.posts"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(tt.brokers)}, tt.seed...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			opts := testOptions(c)
			opts.Partitions, opts.ReplicationFactor = tt.partitions, tt.replication
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			l, err := Open(ctx, opts)
			if tt.wantErr != "" {
				if err == nil {
					l.Close()
					t.Fatalf("Open succeeded, want an error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			for _, topic := range []string{"mashangban.posts", "mashangban.decisions"} {
				parts, replicas := partitionsOf(t, c, topic)
				want := tt.wantParts
				if topic == "mashangban.decisions" {
					want = tt.partitions // never seeded
				}
				if parts != want || replicas != tt.wantReplicas {
					t.Errorf("%s: %d partitions with %d replicas, want %d with %d", topic, parts, replicas, want, tt.wantReplicas)
				}
			}
			// A round trip on every replica: Publish waits for acks from all.
			publishAndRead(t, l)
		})
	}
}

func publishAndRead(t *testing.T, l *Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Publish(ctx, stream.TopicPosts, stream.Message{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	got := make(chan stream.Message, 1)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- l.Consume(cctx, stream.TopicPosts, "g", func(_ context.Context, m stream.Message) error {
			got <- m
			stop()
			return nil
		})
	}()
	select {
	case m := <-got:
		if string(m.Value) != "v" {
			t.Errorf("read %q, want v", m.Value)
		}
	case <-ctx.Done():
		t.Fatal("message not delivered")
	}
	if err := <-done; err != nil {
		t.Errorf("Consume: %v", err)
	}
}

// TestTopicCreatedOnFirstUse covers a topic outside Options.Topics.
func TestTopicCreatedOnFirstUse(t *testing.T) {
	c := newCluster(t, 1)
	opts := testOptions(c)
	opts.Topics = []string{}
	l := openTest(t, opts)
	defer l.Close()
	if parts, _ := partitionsOf(t, c, "mashangban.posts"); parts != 0 {
		t.Fatalf("posts exists with %d partitions before use", parts)
	}
	publishAndRead(t, l)
	if parts, _ := partitionsOf(t, c, "mashangban.posts"); parts != 3 {
		t.Errorf("posts has %d partitions after first use, want 3", parts)
	}
}

func TestUnreachable(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(c)
	opts.Timeout = time.Second
	l := openTest(t, opts)
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Ping(ctx); err != nil {
		t.Fatalf("Ping with the cluster up: %v", err)
	}
	c.Close()
	if err := l.Ping(ctx); err == nil {
		t.Error("Ping with the cluster down succeeded")
	}
	if _, err := Open(ctx, opts); err == nil {
		t.Error("Open with the cluster down succeeded")
	}
	if _, err := Open(ctx, Options{}); err == nil {
		t.Error("Open without brokers succeeded")
	}
	opts.TopicPrefix = "bad/"
	if _, err := Open(ctx, opts); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open with an illegal topic prefix = %v, want a name error", err)
	}
}

func TestPublishRejects(t *testing.T) {
	c := newCluster(t, 1)
	opts := testOptions(c)
	opts.MaxMessageBytes = 1024
	l := openTest(t, opts)
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name  string
		topic string
		msg   stream.Message
	}{
		{"oversized", stream.TopicPosts, stream.Message{Key: []byte("k"), Value: make([]byte, 4096)}},
		{"bad topic", "posts/x", stream.Message{Value: []byte("v")}},
		{"empty topic", "", stream.Message{Value: []byte("v")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := l.Publish(ctx, tt.topic, tt.msg); err == nil {
				t.Error("Publish succeeded")
			}
		})
	}
	// The rejected message did not block the writer.
	publishAndRead(t, l)
}
