package memlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/mashangban/mashangban/stream"
)

const waitTimeout = 30 * time.Second

func publishValues(t *testing.T, l *Log, topic string, vals ...string) {
	t.Helper()
	var ms []stream.Message
	for _, v := range vals {
		ms = append(ms, stream.Message{Key: []byte("k"), Value: []byte(v)})
	}
	if err := l.Publish(context.Background(), topic, ms...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// consumeN consumes n messages of topic for group and stops.
func consumeN(t *testing.T, l *Log, topic, group string, n int) []stream.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu  sync.Mutex
		got []stream.Message
	)
	done := make(chan error, 1)
	go func() {
		done <- l.Consume(ctx, topic, group, func(_ context.Context, m stream.Message) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m)
			if len(got) == n {
				cancel()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Consume: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("consumed %d of %d messages before the timeout", n, n)
	}
	mu.Lock()
	defer mu.Unlock()
	return got
}

func valuesOf(ms []stream.Message) string {
	var vs []string
	for _, m := range ms {
		vs = append(vs, string(m.Value))
	}
	return strings.Join(vs, ",")
}

func segmentPath(dir, topic string, partition int, base int64) string {
	return filepath.Join(dir, topic, strconv.Itoa(partition), segmentName(base))
}

func oneRecord(value string) []byte {
	return appendRecord(nil, record{key: []byte("k"), value: []byte(value), time: time.Unix(1700000000, 0)})
}

// TestRecoverTornTail damages the end of a segment the way a crash during
// Publish can, reopens, and checks that the intact records survive, the tail
// is cut off, and new records follow the intact ones.
func TestRecoverTornTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b []byte) []byte
		want   string // values that survive
	}{
		{"clean", func(b []byte) []byte { return b }, "a,b,c"},
		{"half a header", func(b []byte) []byte { return append(b, oneRecord("d")[:5]...) }, "a,b,c"},
		{"half a body", func(b []byte) []byte { r := oneRecord("dddddd"); return append(b, r[:len(r)-3]...) }, "a,b,c"},
		{"zeros after the end", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, "a,b,c"},
		{"last record corrupt", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }, "a,b"},
		{"huge length", func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0) }, "a,b,c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions()
			opts.Partitions = 1
			l := openTest(t, dir, opts)
			publishValues(t, l, "posts", "a", "b")
			publishValues(t, l, "posts", "c")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			seg := segmentPath(dir, "posts", 0, 0)
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, tt.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}

			l = openTest(t, dir, opts)
			defer l.Close()
			n := strings.Count(tt.want, ",") + 1
			st, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(oneRecord("a")) * n); st.Size() != want {
				t.Errorf("segment has %d bytes after recovery, want %d", st.Size(), want)
			}
			publishValues(t, l, "posts", "x")
			got := consumeN(t, l, "posts", "g", n+1)
			if v := valuesOf(got); v != tt.want+",x" {
				t.Errorf("after recovery delivered %s, want %s,x", v, tt.want)
			}
			if last := got[len(got)-1]; last.Offset != int64(n) {
				t.Errorf("new record got offset %d, want %d", last.Offset, n)
			}
		})
	}
}

// TestSegmentsRollAndResume writes enough to fill several small segments and
// checks reading across them, and resuming a group in a middle segment after
// a restart.
func TestSegmentsRollAndResume(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.Partitions = 1
	opts.SegmentBytes = 5 * int64(len(oneRecord("00")))
	l := openTest(t, dir, opts)
	var vals []string
	for i := range 40 {
		vals = append(vals, fmt.Sprintf("%02d", i))
	}
	for i := 0; i < len(vals); i += 3 {
		publishValues(t, l, "posts", vals[i:min(i+3, len(vals))]...)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "posts", "0", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 8 {
		t.Fatalf("40 records in segments of 5 records took %d segment files", len(segs))
	}
	if got := valuesOf(consumeN(t, l, "posts", "all", 40)); got != strings.Join(vals, ",") {
		t.Fatalf("delivered %s", got)
	}
	if got := valuesOf(consumeN(t, l, "posts", "part", 23)); got != strings.Join(vals[:23], ",") {
		t.Fatalf("delivered %s", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openTest(t, dir, opts)
	defer l.Close()
	publishValues(t, l, "posts", "40")
	got := consumeN(t, l, "posts", "part", 18)
	if want := strings.Join(append(vals[23:], "40"), ","); valuesOf(got) != want {
		t.Fatalf("resumed group delivered %s, want %s", valuesOf(got), want)
	}
	if got[len(got)-1].Offset != 40 {
		t.Errorf("record published after reopen has offset %d, want 40", got[len(got)-1].Offset)
	}
}

// TestCorruptSealedSegmentFailsConsume checks that damage inside the log
// (not a torn tail) stops Consume with an error instead of skipping records.
func TestCorruptSealedSegmentFailsConsume(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.Partitions = 1
	opts.SegmentBytes = 2 * int64(len(oneRecord("a")))
	l := openTest(t, dir, opts)
	defer l.Close()
	for _, v := range []string{"a", "b", "c", "d", "e"} {
		publishValues(t, l, "posts", v)
	}
	seg := segmentPath(dir, "posts", 0, 0)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	err = l.Consume(context.Background(), "posts", "g", func(context.Context, stream.Message) error { return nil })
	if !errors.Is(err, errCorrupt) {
		t.Fatalf("Consume over a corrupt record returned %v, want errCorrupt", err)
	}
}

func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, testOptions())
	if l2, err := Open(dir, testOptions()); err == nil {
		l2.Close()
		t.Fatal("second Open of a directory in use succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	openTest(t, dir, testOptions()).Close()
}

// TestOffsetsSurviveTornCommit leaves the temporary file a crash during a
// commit can leave behind, and an offsets file past the end of the log.
func TestOffsetsSurviveTornCommit(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.Partitions = 1
	l := openTest(t, dir, opts)
	publishValues(t, l, "posts", "a", "b", "c")
	consumeN(t, l, "posts", "g", 2)
	consumeN(t, l, "posts", "ahead", 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "posts", groupFileName("g"))
	if err := os.WriteFile(path+".tmp", []byte(`{"group":"g","offs`), 0o644); err != nil {
		t.Fatal(err)
	}
	ahead := filepath.Join(dir, "posts", groupFileName("ahead"))
	if err := os.WriteFile(ahead, []byte(`{"group":"ahead","offsets":[100]}`), 0o644); err != nil {
		t.Fatal(err)
	}

	l = openTest(t, dir, opts)
	defer l.Close()
	if got := valuesOf(consumeN(t, l, "posts", "g", 1)); got != "c" {
		t.Errorf("group resumed with %s, want c", got)
	}
	publishValues(t, l, "posts", "d")
	// An offset past the end means records were lost; the group reads the
	// partition again rather than skip what came after.
	if got := valuesOf(consumeN(t, l, "posts", "ahead", 4)); got != "a,b,c,d" {
		t.Errorf("group with an offset past the end got %s, want a,b,c,d", got)
	}
}

func TestTopicKeepsPartitionCount(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.Partitions = 4
	l := openTest(t, dir, opts)
	publishValues(t, l, "posts", "a")
	l.Close()
	opts.Partitions = 1
	l = openTest(t, dir, opts)
	defer l.Close()
	tp, err := l.topic("posts")
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.parts) != 4 {
		t.Errorf("reopened topic has %d partitions, want the 4 it was created with", len(tp.parts))
	}
}

func TestPublishRejects(t *testing.T) {
	opts := testOptions()
	opts.MaxMessageBytes = 10
	l := openTest(t, t.TempDir(), opts)
	defer l.Close()
	tests := []struct {
		name  string
		topic string
		msg   stream.Message
	}{
		{"oversized", "posts", stream.Message{Key: []byte("k"), Value: []byte("0123456789")}},
		{"bad topic", "posts/../x", stream.Message{Value: []byte("v")}},
		{"empty topic", "", stream.Message{Value: []byte("v")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := l.Publish(context.Background(), tt.topic, tt.msg); err == nil {
				t.Error("Publish succeeded")
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Publish(ctx, "posts", stream.Message{Value: []byte("v")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context = %v", err)
	}
}

// TestPartitionMatchesKafkaGo checks that a key lands in the same partition
// number in the in-process log as on Kafka with kafka-go's Hash balancer, so
// moving a deployment between the two keeps per-key ownership the same.
func TestPartitionMatchesKafkaGo(t *testing.T) {
	var h kafkago.Hash
	for _, n := range []int{1, 2, 3, 6, 7, 12} {
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		for i := range 500 {
			key := []byte(fmt.Sprintf("weibo:%d", 5030112233445566+i*7919))
			if i%3 == 0 {
				key = []byte(fmt.Sprintf("340%03d", i))
			}
			got, ok := Partition(key, n)
			want := h.Balance(kafkago.Message{Key: key}, parts...)
			if !ok || got != want {
				t.Fatalf("Partition(%q, %d) = %d, kafka-go chooses %d", key, n, got, want)
			}
		}
	}
	if _, ok := Partition(nil, 3); ok {
		t.Error("nil key got a partition")
	}
}

func TestNilKeysSpreadRoundRobin(t *testing.T) {
	opts := testOptions()
	opts.Partitions = 3
	l := openTest(t, t.TempDir(), opts)
	defer l.Close()
	ms := make([]stream.Message, 6)
	for i := range ms {
		ms[i] = stream.Message{Value: []byte(strconv.Itoa(i))}
	}
	if err := l.Publish(context.Background(), "posts", ms...); err != nil {
		t.Fatal(err)
	}
	counts := map[int]int{}
	for _, m := range consumeN(t, l, "posts", "g", 6) {
		counts[m.Partition]++
		if m.Key != nil {
			t.Errorf("nil key came back as %q", m.Key)
		}
	}
	if len(counts) != 3 || counts[0] != 2 || counts[1] != 2 || counts[2] != 2 {
		t.Errorf("6 unkeyed messages spread as %v over 3 partitions", counts)
	}
}

// copyDir copies the regular files under src to dst: the state a kill -9 at
// this moment would leave on disk, since Publish and commits fsync.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a temporary offsets file renamed meanwhile
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// TestCrashMidConsume takes the on-disk state while a handler is running,
// as if the process were killed there, and checks that a log opened on it
// loses nothing: the group resumes at or before the message in flight and
// gets every message after it.
func TestCrashMidConsume(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.Partitions = 1
	l := openTest(t, dir, opts)
	defer l.Close()
	var vals []string
	for i := range 10 {
		vals = append(vals, strconv.Itoa(i))
	}
	publishValues(t, l, "posts", vals...)

	inFlight := make(chan struct{})
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- l.Consume(ctx, "posts", "g", func(ctx context.Context, m stream.Message) error {
			if string(m.Value) == "5" {
				close(inFlight)
				select {
				case <-release:
				case <-ctx.Done():
				}
				return ctx.Err()
			}
			return nil
		})
	}()
	select {
	case <-inFlight:
	case <-time.After(waitTimeout):
		t.Fatal("message 5 never delivered")
	}
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	close(release)
	cancel()
	<-done

	l2 := openTest(t, crashed, opts)
	defer l2.Close()
	publishValues(t, l2, "posts", "10")
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var got []string
	done2 := make(chan error, 1)
	go func() {
		done2 <- l2.Consume(ctx2, "posts", "g", func(_ context.Context, m stream.Message) error {
			got = append(got, string(m.Value))
			if string(m.Value) == "10" {
				cancel2()
			}
			return nil
		})
	}()
	select {
	case err := <-done2:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("restarted consumer did not reach the new message")
	}
	first, err := strconv.Atoi(got[0])
	if err != nil || first > 5 {
		t.Fatalf("after the crash the group resumed at %q, past the message in flight", got[0])
	}
	if want := strings.Join(append(vals[first:], "10"), ","); strings.Join(got, ",") != want {
		t.Errorf("after the crash delivered %s, want %s", strings.Join(got, ","), want)
	}
}

func segmentBases(t *testing.T, dir string) []int64 {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "posts", "0", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	var bases []int64
	for _, p := range paths {
		b, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(p), ".log"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, b)
	}
	return bases
}

// TestRetention checks that old segments go only once every group has
// committed past them, and that groups resume correctly afterwards.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.Partitions = 1
	opts.SegmentBytes = 5 * int64(len(oneRecord("00")))
	opts.Retention = time.Nanosecond // every sealed segment is old enough
	l := openTest(t, dir, opts)
	publishOne := func(from, to int) {
		for i := from; i < to; i++ {
			publishValues(t, l, "posts", fmt.Sprintf("%02d", i))
		}
	}
	publishOne(0, 20)
	if got := fmt.Sprint(segmentBases(t, dir)); got != "[0 5 10 15]" {
		t.Fatalf("with no consumer group, segments %s, want all of [0 5 10 15]", got)
	}
	consumeN(t, l, "posts", "a", 12)
	consumeN(t, l, "posts", "b", 3)
	publishOne(20, 25)
	if got := fmt.Sprint(segmentBases(t, dir)); got != "[0 5 10 15 20]" {
		t.Fatalf("with group b at 3, segments %s, want [0 5 10 15 20]", got)
	}
	consumeN(t, l, "posts", "b", 22)
	publishOne(25, 30)
	if got := fmt.Sprint(segmentBases(t, dir)); got != "[10 15 20 25]" {
		t.Fatalf("with groups at 12 and 25, segments %s, want [10 15 20 25]", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openTest(t, dir, opts)
	defer l.Close()
	if got := consumeN(t, l, "posts", "a", 18); got[0].Offset != 12 || string(got[0].Value) != "12" {
		t.Errorf("group a resumed at offset %d (%s), want 12", got[0].Offset, got[0].Value)
	}
	if got := consumeN(t, l, "posts", "new", 20); got[0].Offset != 10 || got[19].Offset != 29 {
		t.Errorf("a new group read offsets %d..%d, want 10..29 (the oldest kept)", got[0].Offset, got[19].Offset)
	}
}
