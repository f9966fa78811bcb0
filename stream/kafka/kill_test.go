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
// binary run with -test.run=TestKillHelper; with killHelperDefaultsEnv set,
// the helper consumes with the package's default group timings.
const (
	killHelperEnv         = "KAFKA_KILL_HELPER_BROKER"
	killHelperDefaultsEnv = "KAFKA_KILL_HELPER_DEFAULTS"
)

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

// defaultOptions are what a deployment gets: only the brokers and topics
// set, every group timing left to this package.
func defaultOptions(broker string) Options {
	return Options{Brokers: []string{broker}, TopicPrefix: "mashangban.", Partitions: 1}
}

// TestKillHelper is not a test on its own: TestKill9 and
// TestRestartAfterKill run it in a child process that consumes until it is
// killed.
func TestKillHelper(t *testing.T) {
	broker := os.Getenv(killHelperEnv)
	if broker == "" {
		t.Skip("helper process for TestKill9")
	}
	opts := killOptions(broker)
	if os.Getenv(killHelperDefaultsEnv) != "" {
		opts = defaultOptions(broker)
	}
	l, err := Open(context.Background(), opts)
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

// startHelper runs TestKillHelper in a child process with the package's
// default group timings and sends each value it handles on the returned
// channel, which is closed when the child exits.
func startHelper(t *testing.T, broker string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+broker, killHelperDefaultsEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	handled := make(chan string, 100)
	go func() {
		defer close(handled)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "handled "); ok {
				handled <- v
			} else {
				t.Logf("helper: %s", sc.Text())
			}
		}
	}()
	return cmd, handled
}

// TestRestartAfterKill kills a consumer process with the package's default
// group timings (as a deployment runs it) and starts it again, as a
// supervisor would: the restarted process must get its partition back
// within 15 s. The coordinator keeps the dead member until its session
// times out, so this bounds the default session timeout and rebalance. The
// broker keeps Kafka's default minimum session timeout (6 s).
func TestRestartAfterKill(t *testing.T) {
	if os.Getenv(killHelperEnv) != "" {
		t.Skip("inside the helper")
	}
	const bound = 15 * time.Second
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	broker := c.ListenAddrs()[0]
	l := openTest(t, defaultOptions(broker))
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	publish := func(v string) {
		t.Helper()
		if err := l.Publish(ctx, stream.TopicPosts, stream.Message{Key: []byte("k"), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	publish("0")

	first, handled := startHelper(t, broker)
	select {
	case v := <-handled:
		if v != "0" {
			t.Fatalf("first process handled %q first, want 0", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("first process handled nothing within 30 s")
	}
	first.Process.Kill()
	first.Wait()
	publish("1")

	start := time.Now()
	_, handled = startHelper(t, broker)
	// Wait well past the bound so that a failure reports how long it took.
	for {
		select {
		case v, ok := <-handled:
			if !ok {
				t.Fatal("restarted process exited")
			}
			took := time.Since(start)
			t.Logf("restarted process handled %s after %v", v, took.Round(10*time.Millisecond))
			if v != "1" {
				continue // 0 again: its commit may have been lost in the kill
			}
			if took > bound {
				t.Fatalf("restarted process resumed after %v, want under %v", took.Round(100*time.Millisecond), bound)
			}
			return
		case <-time.After(90 * time.Second):
			t.Fatalf("restarted process handled nothing within 90 s")
		}
	}
}
