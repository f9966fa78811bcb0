package kafka

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mashangban/mashangban/stream"
)

// TestBrokerOutage stops the broker under a running Consume and a Log that
// keeps publishing, then starts it again on the same port and data: Publish
// fails while it is down, Consume neither returns nor loses its place, and
// both carry on once it is back.
func TestBrokerOutage(t *testing.T) {
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	start := func() *kfake.Cluster {
		t.Helper()
		var c *kfake.Cluster
		var err error
		// The port was free a moment ago; after a stop it may take a moment to be free again.
		for range 50 {
			c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(data), kfake.SyncWrites(),
				kfake.GroupMinSessionTimeout(500*time.Millisecond))
			if err == nil {
				return c
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("start kfake on port %d: %v", port, err)
		return nil
	}
	c := start()
	opts := testOptions(c)
	opts.Timeout = time.Second
	// The restarted coordinator keeps the old member until its session
	// expires, because kafka-go rejoins under a new member ID.
	opts.SessionTimeout = time.Second
	l := openTest(t, opts)
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publish := func(ctx context.Context, from, to int) error {
		ms := make([]stream.Message, 0, to-from)
		for i := from; i < to; i++ {
			ms = append(ms, stream.Message{Key: []byte("k"), Value: []byte(strconv.Itoa(i))})
		}
		return l.Publish(ctx, stream.TopicPosts, ms...)
	}
	if err := publish(ctx, 0, 5); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 100)
	consumeDone := make(chan error, 1)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		consumeDone <- l.Consume(cctx, stream.TopicPosts, "g", func(_ context.Context, m stream.Message) error {
			got <- string(m.Value)
			return nil
		})
	}()
	// expect waits until to-1 arrives and checks that what came is a
	// contiguous run ending there that starts no later than from: a message
	// handled just before the outage may come again if its commit was lost.
	expect := func(from, to int) {
		t.Helper()
		var seen []int
		for len(seen) == 0 || seen[len(seen)-1] != to-1 {
			select {
			case v := <-got:
				if v == "100" {
					// Publish gave up on it, but kafka-go's writer keeps the
					// batch and may write it once the broker is back.
					continue
				}
				n, _ := strconv.Atoi(v)
				seen = append(seen, n)
			case <-ctx.Done():
				t.Fatalf("waiting for %d, got %v", to-1, seen)
			}
		}
		if seen[0] > from {
			t.Fatalf("got %v, skipping %d", seen, from)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] != seen[i-1]+1 {
				t.Fatalf("got %v, not in order", seen)
			}
		}
	}
	expect(0, 5)

	c.Close()
	down, cancelDown := context.WithTimeout(ctx, 2*time.Second)
	if err := publish(down, 100, 101); err == nil {
		t.Error("Publish succeeded with the broker down")
	}
	cancelDown()
	select {
	case err := <-consumeDone:
		t.Fatalf("Consume returned %v while the broker was down", err)
	default:
	}

	c = start()
	defer c.Close()
	if err := publish(ctx, 5, 10); err != nil {
		t.Fatalf("Publish after the broker came back: %v", err)
	}
	expect(5, 10)
	stop()
	if err := <-consumeDone; err != nil {
		t.Errorf("Consume: %v", err)
	}
}
