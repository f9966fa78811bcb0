// Package streamtest is the contract test suite of stream.Log. Every
// implementation runs it (stream/memlog on a directory, stream/kafka on an
// in-process kfake cluster), so that both keep the same guarantees: order per
// key, at-least-once delivery with redelivery after a handler error, commits
// only after a handler succeeded, independent groups, durability across a
// restart, Ping and Close.
//
// It is for tests only. Waits in it are guards against a hang, not
// measurements: they fail a test only after a generous timeout.
package streamtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mashangban/mashangban/stream"
)

// Backend describes the implementation under test.
type Backend struct {
	// Partitions is the partition count the backend gives a new topic.
	Partitions int
	// New prepares empty storage for one test and returns a function that
	// opens a Log on it. Every call of open returns a new instance over the
	// same storage, as a restarted process would get (same directory, same
	// cluster). The suite closes each instance it opens, sometimes before
	// opening the next.
	New func(t *testing.T) (open func(t *testing.T) stream.Log)
}

// Timeout bounds every wait of the suite; reaching it means a hang.
const Timeout = 30 * time.Second

// Run runs the contract suite against b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"OrderWithinKey", testOrderWithinKey},
		{"RedeliveryAfterHandlerError", testRedelivery},
		{"CommitOnlyAfterSuccess", testCommitOnlyAfterSuccess},
		{"IndependentGroups", testIndependentGroups},
		{"KeyedPartitioning", testKeyedPartitioning},
		{"DeliversWhileWaiting", testDeliversWhileWaiting},
		{"Restart", testRestart},
		{"GroupMembersShareWork", testGroupMembersShareWork},
		{"PingAndClose", testPingAndClose},
		{"CloseStopsConsume", testCloseStopsConsume},
		{"RejectsBadNames", testRejectsBadNames},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

// openCloser opens a Log and closes it at the end of the test unless the
// test closed it first.
func openCloser(t *testing.T, open func(t *testing.T) stream.Log) stream.Log {
	t.Helper()
	l := open(t)
	t.Cleanup(func() { l.Close() })
	return l
}

func msg(key, value string) stream.Message {
	return stream.Message{Key: []byte(key), Value: []byte(value)}
}

func publish(t *testing.T, l stream.Log, topic string, msgs ...stream.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := l.Publish(ctx, topic, msgs...); err != nil {
		t.Fatalf("Publish(%q, %d messages): %v", topic, len(msgs), err)
	}
}

// consumer is one running Consume call.
type consumer struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Consume returned err
	err    error
}

func startConsume(t *testing.T, l stream.Log, topic, group string, h stream.Handler) *consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &consumer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.err = l.Consume(ctx, topic, group, h)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.done:
		case <-time.After(Timeout):
		}
	})
	return c
}

// stop cancels the Consume call and checks that it returned nil, as the
// contract requires when ctx is done.
func (c *consumer) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case <-c.done:
		if c.err != nil {
			t.Fatalf("Consume after cancel returned %v, want nil", c.err)
		}
	case <-time.After(Timeout):
		t.Fatal("Consume did not return after its context was cancelled")
	}
}

// collect returns a handler that hands every message to ch and succeeds.
func collect(ch chan<- stream.Message) stream.Handler {
	return func(ctx context.Context, m stream.Message) error {
		select {
		case ch <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// receive waits for n messages from ch.
func receive(t *testing.T, ch <-chan stream.Message, n int) []stream.Message {
	t.Helper()
	var got []stream.Message
	timeout := time.After(Timeout)
	for len(got) < n {
		select {
		case m := <-ch:
			got = append(got, m)
		case <-timeout:
			t.Fatalf("received %d of %d messages before the timeout: %v", len(got), n, values(got))
		}
	}
	return got
}

func values(ms []stream.Message) []string {
	var vs []string
	for _, m := range ms {
		vs = append(vs, string(m.Value))
	}
	return vs
}

func checkValues(t *testing.T, got []stream.Message, want ...string) {
	t.Helper()
	gv := values(got)
	if fmt.Sprint(gv) != fmt.Sprint(want) {
		t.Fatalf("delivered %q, want %q", gv, want)
	}
}

func seq(prefix string, from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, prefix+strconv.Itoa(i))
	}
	return s
}

func testOrderWithinKey(t *testing.T, b Backend) {
	l := openCloser(t, b.New(t))
	at := time.Date(2024, 5, 17, 8, 30, 0, 0, time.UTC)
	for i := 0; i < 10; i += 4 {
		var ms []stream.Message
		for j := i; j < min(i+4, 10); j++ {
			m := msg("weibo:5030112233445566", "v"+strconv.Itoa(j))
			m.Time = at.Add(time.Duration(j) * time.Second)
			ms = append(ms, m)
		}
		publish(t, l, stream.TopicPosts, ms...)
	}
	ch := make(chan stream.Message, 100)
	c := startConsume(t, l, stream.TopicPosts, "g", collect(ch))
	got := receive(t, ch, 10)
	c.stop(t)
	checkValues(t, got, seq("v", 0, 10)...)
	for i, m := range got {
		if m.Topic != stream.TopicPosts {
			t.Errorf("message %d: Topic = %q, want %q", i, m.Topic, stream.TopicPosts)
		}
		if string(m.Key) != "weibo:5030112233445566" {
			t.Errorf("message %d: Key = %q", i, m.Key)
		}
		if m.Partition != got[0].Partition || m.Partition < 0 || m.Partition >= b.Partitions {
			t.Errorf("message %d: Partition = %d, first was %d, topic has %d", i, m.Partition, got[0].Partition, b.Partitions)
		}
		if i > 0 && m.Offset <= got[i-1].Offset {
			t.Errorf("message %d: Offset %d not after %d", i, m.Offset, got[i-1].Offset)
		}
		if want := at.Add(time.Duration(i) * time.Second); !m.Time.Equal(want) {
			t.Errorf("message %d: Time = %v, want %v", i, m.Time, want)
		}
	}
}

func testRedelivery(t *testing.T, b Backend) {
	l := openCloser(t, b.New(t))
	publish(t, l, stream.TopicPosts, msg("k", "a"), msg("k", "b"), msg("k", "c"), msg("k", "d"), msg("k", "e"))
	ch := make(chan stream.Message, 100)
	var mu sync.Mutex
	failures := 0
	h := func(ctx context.Context, m stream.Message) error {
		ch <- m
		mu.Lock()
		defer mu.Unlock()
		if string(m.Value) == "c" && failures < 2 {
			failures++
			return errors.New("store unavailable")
		}
		return nil
	}
	c := startConsume(t, l, stream.TopicPosts, "g", h)
	got := receive(t, ch, 7)
	c.stop(t)
	// c fails twice: it comes three times, and d waits for it.
	checkValues(t, got, "a", "b", "c", "c", "c", "d", "e")
	if got[2].Offset != got[3].Offset || got[3].Offset != got[4].Offset {
		t.Errorf("redelivered offsets %d, %d, %d differ", got[2].Offset, got[3].Offset, got[4].Offset)
	}
}

func testCommitOnlyAfterSuccess(t *testing.T, b Backend) {
	tests := []struct {
		name string
		// handle is the handler for message v5; cancel stops the Consume call.
		handle func(ctx context.Context, cancel context.CancelFunc) error
		// firstAfterRestart is the message the restarted group gets first.
		firstAfterRestart int
	}{
		{
			name: "handler keeps failing",
			handle: func(ctx context.Context, cancel context.CancelFunc) error {
				cancel()
				return errors.New("store unavailable")
			},
			firstAfterRestart: 5,
		},
		{
			name: "handler in flight at cancel",
			handle: func(ctx context.Context, cancel context.CancelFunc) error {
				cancel()
				<-ctx.Done()
				return ctx.Err()
			},
			firstAfterRestart: 5,
		},
		{
			name: "handler succeeds after cancel",
			handle: func(ctx context.Context, cancel context.CancelFunc) error {
				cancel()
				<-ctx.Done()
				return nil
			},
			firstAfterRestart: 6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open := b.New(t)
			l := openCloser(t, open)
			var ms []stream.Message
			for _, v := range seq("v", 0, 10) {
				ms = append(ms, msg("k", v))
			}
			publish(t, l, stream.TopicPosts, ms...)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var seen []string
			h := func(ctx context.Context, m stream.Message) error {
				seen = append(seen, string(m.Value))
				if string(m.Value) == "v5" {
					return tt.handle(ctx, cancel)
				}
				return nil
			}
			done := make(chan error, 1)
			go func() { done <- l.Consume(ctx, stream.TopicPosts, "g", h) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Consume returned %v after cancel, want nil", err)
				}
			case <-time.After(Timeout):
				t.Fatal("Consume did not return after cancel")
			}
			if fmt.Sprint(seen) != fmt.Sprint(seq("v", 0, 6)) {
				t.Fatalf("first run delivered %q, want v0..v5 once each", seen)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			l2 := openCloser(t, open)
			ch := make(chan stream.Message, 100)
			c := startConsume(t, l2, stream.TopicPosts, "g", collect(ch))
			got := receive(t, ch, 10-tt.firstAfterRestart)
			c.stop(t)
			checkValues(t, got, seq("v", tt.firstAfterRestart, 10)...)
		})
	}
}

func testIndependentGroups(t *testing.T, b Backend) {
	l := openCloser(t, b.New(t))
	publish(t, l, stream.TopicDecisions, msg("340503", "a"), msg("340503", "b"), msg("340503", "c"))
	chA := make(chan stream.Message, 100)
	chB := make(chan stream.Message, 100)
	a := startConsume(t, l, stream.TopicDecisions, "dispatch", collect(chA))
	startConsume(t, l, stream.TopicDecisions, "audit", collect(chB))
	checkValues(t, receive(t, chA, 3), "a", "b", "c")
	checkValues(t, receive(t, chB, 3), "a", "b", "c")
	a.stop(t)

	publish(t, l, stream.TopicDecisions, msg("340503", "d"))
	checkValues(t, receive(t, chB, 1), "d")
	// dispatch resumes after its own commits: only d is new to it.
	startConsume(t, l, stream.TopicDecisions, "dispatch", collect(chA))
	checkValues(t, receive(t, chA, 1), "d")
	select {
	case m := <-chA:
		t.Errorf("group dispatch got %q again", m.Value)
	case m := <-chB:
		t.Errorf("group audit got %q again", m.Value)
	default:
	}
}

func testKeyedPartitioning(t *testing.T, b Backend) {
	l := openCloser(t, b.New(t))
	const keys, perKey = 12, 6
	for round := 0; round < perKey; round += 2 {
		var ms []stream.Message
		for i := round; i < round+2; i++ {
			for k := range keys {
				ms = append(ms, msg(fmt.Sprintf("wechat:%d", k), strconv.Itoa(i)))
			}
		}
		publish(t, l, stream.TopicPosts, ms...)
	}
	ch := make(chan stream.Message, keys*perKey)
	c := startConsume(t, l, stream.TopicPosts, "g", collect(ch))
	got := receive(t, ch, keys*perKey)
	c.stop(t)

	byKey := map[string][]stream.Message{}
	partitions := map[int]bool{}
	for _, m := range got {
		byKey[string(m.Key)] = append(byKey[string(m.Key)], m)
		partitions[m.Partition] = true
		if m.Partition < 0 || m.Partition >= b.Partitions {
			t.Errorf("message %q/%q in partition %d, topic has %d", m.Key, m.Value, m.Partition, b.Partitions)
		}
	}
	for k, ms := range byKey {
		checkValues(t, ms, seq("", 0, perKey)...)
		for _, m := range ms {
			if m.Partition != ms[0].Partition {
				t.Errorf("key %q in partitions %d and %d", k, ms[0].Partition, m.Partition)
			}
		}
	}
	if len(byKey) != keys {
		t.Errorf("got %d keys, want %d", len(byKey), keys)
	}
	if b.Partitions > 1 && len(partitions) < 2 {
		t.Errorf("%d keys all landed in one of %d partitions", keys, b.Partitions)
	}
}

func testDeliversWhileWaiting(t *testing.T, b Backend) {
	l := openCloser(t, b.New(t))
	ch := make(chan stream.Message, 10)
	c := startConsume(t, l, stream.TopicPosts, "g", collect(ch))
	before := time.Now().Add(-time.Minute) // clocks of a broker may differ a little
	publish(t, l, stream.TopicPosts, msg("k", "late"))
	got := receive(t, ch, 1)
	checkValues(t, got, "late")
	if got[0].Time.Before(before) {
		t.Errorf("a message published without Time has Time %v, want about now", got[0].Time)
	}
	publish(t, l, stream.TopicPosts, msg("k", "later"))
	checkValues(t, receive(t, ch, 1), "later")
	c.stop(t)
}

func testRestart(t *testing.T, b Backend) {
	open := b.New(t)
	l := openCloser(t, open)
	publish(t, l, stream.TopicPosts, msg("k", "0"), msg("k", "1"), msg("k", "2"))
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l2 := openCloser(t, open)
	publish(t, l2, stream.TopicPosts, msg("k", "3"), msg("k", "4"))
	ch := make(chan stream.Message, 10)
	c := startConsume(t, l2, stream.TopicPosts, "g", collect(ch))
	got := receive(t, ch, 5)
	c.stop(t)
	checkValues(t, got, "0", "1", "2", "3", "4")
	for i := 1; i < len(got); i++ {
		if got[i].Offset <= got[i-1].Offset {
			t.Errorf("offset %d of %q not after %d", got[i].Offset, got[i].Value, got[i-1].Offset)
		}
	}
}

func testGroupMembersShareWork(t *testing.T, b Backend) {
	l := openCloser(t, b.New(t))
	const n = 30
	var ms []stream.Message
	for i := range n {
		ms = append(ms, msg("key"+strconv.Itoa(i%10), strconv.Itoa(i)))
	}
	ch := make(chan stream.Message, 4*n)
	startConsume(t, l, stream.TopicPosts, "g", collect(ch))
	startConsume(t, l, stream.TopicPosts, "g", collect(ch))
	publish(t, l, stream.TopicPosts, ms...)
	seen := map[string]bool{}
	timeout := time.After(Timeout)
	for len(seen) < n {
		select {
		case m := <-ch:
			seen[string(m.Value)] = true
		case <-timeout:
			t.Fatalf("two members of one group delivered %d of %d messages", len(seen), n)
		}
	}
}

func testPingAndClose(t *testing.T, b Backend) {
	l := b.New(t)(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := l.Ping(ctx); err != nil {
		t.Fatalf("Ping on an open log: %v", err)
	}
	publish(t, l, stream.TopicPosts, msg("k", "v"))
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Publish(ctx, stream.TopicPosts, msg("k", "w")); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Publish after Close = %v, want stream.ErrClosed", err)
	}
	if err := l.Consume(ctx, stream.TopicPosts, "g", collect(make(chan stream.Message, 1))); !errors.Is(err, stream.ErrClosed) {
		t.Errorf("Consume after Close = %v, want stream.ErrClosed", err)
	}
	if err := l.Ping(ctx); err == nil {
		t.Error("Ping after Close = nil, want an error")
	}
}

func testCloseStopsConsume(t *testing.T, b Backend) {
	l := b.New(t)(t)
	publish(t, l, stream.TopicPosts, msg("k", "v"))
	ch := make(chan stream.Message, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Consume(ctx, stream.TopicPosts, "g", collect(ch)) }()
	receive(t, ch, 1)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, stream.ErrClosed) {
			t.Fatalf("Consume on a closed log returned %v, want stream.ErrClosed", err)
		}
	case <-time.After(Timeout):
		t.Fatal("Consume still running after Close")
	}
}

func testRejectsBadNames(t *testing.T, b Backend) {
	l := openCloser(t, b.New(t))
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := l.Publish(ctx, stream.TopicPosts); err != nil {
		t.Errorf("Publish of no messages = %v, want nil", err)
	}
	for _, topic := range []string{"", "posts/../x", "帖子"} {
		if err := l.Publish(ctx, topic, msg("k", "v")); err == nil {
			t.Errorf("Publish to topic %q succeeded", topic)
		}
		if err := l.Consume(ctx, topic, "g", collect(make(chan stream.Message, 1))); err == nil {
			t.Errorf("Consume of topic %q returned nil", topic)
		}
	}
	if err := l.Consume(ctx, stream.TopicPosts, "", collect(make(chan stream.Message, 1))); err == nil {
		t.Error("Consume with an empty group returned nil")
	}
}
