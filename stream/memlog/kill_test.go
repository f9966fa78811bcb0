package memlog

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

	"github.com/mashangban/mashangban/stream"
)

// killHelperEnv names the directory the helper process writes to; the
// helper is this test binary run with -test.run=TestKillHelper.
const killHelperEnv = "MEMLOG_KILL_HELPER_DIR"

// TestKillHelper is not a test on its own: TestKill9 runs it in a child
// process that publishes and consumes until it is killed.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv(killHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestKill9")
	}
	opts := testOptions()
	opts.Partitions = 1
	l, err := Open(dir, opts)
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	go l.Consume(context.Background(), "posts", "g", func(_ context.Context, m stream.Message) error {
		say("handled %s", m.Value)
		return nil
	})
	for i := 0; ; i++ {
		if err := l.Publish(context.Background(), "posts", stream.Message{Key: []byte("k"), Value: []byte(strconv.Itoa(i))}); err != nil {
			say("publish failed: %v", err)
			os.Exit(2)
		}
		say("published %d", i)
	}
}

// TestKill9 kills a process in the middle of publishing and consuming, then
// opens its directory: every message whose Publish returned is there, and
// the group resumes at or before the first message not yet handled.
func TestKill9(t *testing.T) {
	if os.Getenv(killHelperEnv) != "" {
		t.Skip("inside the helper")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	published, handled := -1, -1
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(waitTimeout, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	killed := false
	for sc.Scan() {
		line := sc.Text()
		var n int
		switch {
		case strings.HasPrefix(line, "published "):
			n, _ = strconv.Atoi(strings.TrimPrefix(line, "published "))
			published = max(published, n)
		case strings.HasPrefix(line, "handled "):
			n, _ = strconv.Atoi(strings.TrimPrefix(line, "handled "))
			handled = max(handled, n)
		default:
			t.Logf("helper: %s", line)
		}
		if !killed && published >= 100 && handled >= 30 {
			cmd.Process.Kill() // SIGKILL: no deferred code, no Close
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("helper stopped before the kill: published %d, handled %d", published, handled)
	}
	t.Logf("killed after publishing 0..%d and handling 0..%d", published, handled)

	l := openTest(t, dir, Options{Partitions: 1})
	defer l.Close()
	tp, err := l.topic("posts")
	if err != nil {
		t.Fatal(err)
	}
	end, _, _ := tp.parts[0].state()
	if end <= int64(published) {
		t.Fatalf("log holds %d messages after the kill, but Publish had returned for 0..%d", end, published)
	}
	all := consumeN(t, l, "posts", "audit", int(end))
	for i, m := range all {
		if string(m.Value) != strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, m.Value)
		}
	}
	g, err := tp.group("g")
	if err != nil {
		t.Fatal(err)
	}
	resume := g.offset(0)
	if resume > int64(handled)+1 {
		t.Fatalf("group resumes at %d, past %d, the first message not known handled", resume, handled+1)
	}
	rest := consumeN(t, l, "posts", "g", int(end-resume))
	if len(rest) == 0 || rest[0].Offset != resume || rest[len(rest)-1].Offset != end-1 {
		t.Fatalf("group g delivered offsets %d..%d after the kill, want %d..%d", rest[0].Offset, rest[len(rest)-1].Offset, resume, end-1)
	}
	t.Logf("group resumed at %d (handled up to %d before the kill; %d redelivered)", resume, handled, int64(handled)+1-resume)
}
