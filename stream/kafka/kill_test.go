package kafka

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mashangban/mashangban/stream"
)

// killHelperEnv carries the broker address to the helper process, this test
// binary run with -test.run=TestKillHelper.
const killHelperEnv = "KAFKA_KILL_HELPER_BROKER"

// killOptions make a member that stops heartbeating leave the group after
// one second instead of kafka-go's default 30 s.
func killOptions(broker string) Options {
	return Options{
		Brokers:           []string{broker},
		TopicPrefix:       "mashangban.",
		Partitions:        1,
		MinBackoff:        10 * time.Millisecond,
		MaxBackoff:        50 * time.Millisecond,
		HeartbeatInterval: 200 * time.Millisecond,
		SessionTimeout:    time.Second,
		JoinGroupBackoff:  100 * time.Millisecond,
		FetchMaxWait:      100 * time.Millisecond,
	}
}

// TestKillHelper is not a test on its own: TestKill9 runs it in a child
// process that consumes until it is killed.
func TestKillHelper(t *testing.T) {
	broker := os.Getenv(killHelperEnv)
	if broker == "" {
		t.Skip("helper process for TestKill9")
	}
	l, err := Open(context.Background(), killOptions(broker))
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	l.Consume(context.Background(), stream.TopicPosts, "g", func(_ context.Context, m stream.Message) error {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("handled %s\n", m.Value)
		return nil
	})
	os.Exit(3)
}

// TestKill9 kills a consumer process without letting it leave the group or
// close anything, then starts another member in the same group: once the
// dead member's session expires, the new one resumes at or before the first
// message the dead one had not handled, and gets every message after it.
func TestKill9(t *testing.T) {
	if os.Getenv(killHelperEnv) != "" {
		t.Skip("inside the helper")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	broker := c.ListenAddrs()[0]
	opts := killOptions(broker)
	l := openTest(t, opts)
	defer l.Close()
	const total = 300
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < total; i += 50 {
		ms := make([]stream.Message, 50)
		for j := range ms {
			ms[j] = stream.Message{Key: []byte("k"), Value: []byte(strconv.Itoa(i + j))}
		}
		if err := l.Publish(ctx, stream.TopicPosts, ms...); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+broker)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	handled, killed := -1, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "handled "); ok {
			n, _ := strconv.Atoi(v)
			handled = max(handled, n)
		} else {
			t.Logf("helper: %s", line)
		}
		if !killed && handled >= 100 {
			cmd.Process.Kill()
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("helper stopped before the kill, having handled up to %d", handled)
	}

	start := time.Now()
	got := make(chan stream.Message, total)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go l.Consume(cctx, stream.TopicPosts, "g", func(_ context.Context, m stream.Message) error {
		got <- m
		return nil
	})
	var first stream.Message
	select {
	case first = <-got:
	case <-ctx.Done():
		t.Fatal("new member got nothing")
	}
	t.Logf("dead member handled up to %d; new member started at %s after %v", handled, first.Value, time.Since(start).Round(10*time.Millisecond))
	if first.Offset > int64(handled)+1 {
		t.Fatalf("new member starts at offset %d, past %d, the first message not known handled", first.Offset, handled+1)
	}
	next := first.Offset + 1
	for next < total {
		select {
		case m := <-got:
			if m.Offset != next {
				t.Fatalf("after offset %d came %d", next-1, m.Offset)
			}
			next++
		case <-ctx.Done():
			t.Fatalf("new member stopped at offset %d of %d", next, total)
		}
	}
}
