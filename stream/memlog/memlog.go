// Package memlog is mashangban's in-process message log, the embedded
// default behind stream.Log when no Kafka brokers are configured. It keeps
// the full stream.Log contract, durability across restarts included, with
// files in one directory:
//
//	<dir>/LOCK                                   advisory lock, one Log per directory
//	<dir>/<topic>/topic.json                     partition count, fixed at creation
//	<dir>/<topic>/<partition>/<base offset>.log  append-only segments of framed records
//	<dir>/<topic>/group-<group>.json             committed offsets of a consumer group
//
// Publish fsyncs the records before it returns; a consumer commits an offset
// (atomically replacing the group's file) only after its handler returned nil.
// Commits are coalesced, so that one file write covers all the messages
// handled while the previous write was in progress.
// Opening a directory cuts off a record torn by a crash at the end of each
// partition.
//
// Keys choose partitions as Kafka clients do (see Partition), so a key keeps
// its order. A topic is created with Options.Partitions on first use.
//
// It is not for sharing between processes (the directory is locked). It keeps
// every record unless Options.Retention is set; then old segments that every
// consumer group has read are deleted. There is no compaction. Open("") gives a
// throwaway, non-durable log in a temporary directory, for tests.
package memlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/internal/metrics"
	"github.com/mashangban/mashangban/stream/internal/names"
	"github.com/mashangban/mashangban/stream/internal/retry"
)

// Defaults for Options.
const (
	DefaultPartitions      = 1
	DefaultSegmentBytes    = 64 << 20
	DefaultMaxMessageBytes = 1 << 20 // Kafka's default message.max.bytes, near enough
)

// Options configure a Log. The zero value is usable.
type Options struct {
	// Partitions of a topic created by this Log (default 1). An existing
	// topic keeps the count it was created with.
	Partitions int
	// SegmentBytes is the size past which a partition starts a new segment file.
	SegmentBytes int64
	// Retention, if positive, lets a partition delete a sealed segment once
	// its last write is older than Retention and every consumer group of the
	// topic (open in this Log, or with a group file) has committed past it. Zero
	// keeps every record. It is checked whenever a segment fills up.
	Retention time.Duration
	// MaxMessageBytes bounds key plus value of one message; Publish rejects larger ones.
	MaxMessageBytes int
	// MinBackoff and MaxBackoff bound the wait before a message whose
	// handler failed is delivered again (defaults 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	// Registerer receives the mashangban_stream_* metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Log is a stream.Log stored in a directory. It is safe for concurrent use.
type Log struct {
	dir     string
	opts    Options
	backoff retry.Backoff
	logger  *slog.Logger
	metrics *metrics.Metrics
	lock    *os.File
	temp    bool // dir is a temporary directory removed by Close

	mu     sync.Mutex
	topics map[string]*topic
	closed bool

	done      chan struct{} // closed by Close, stops Consume calls
	consumers sync.WaitGroup
}

var _ stream.Log = (*Log)(nil)

type topic struct {
	name  string
	dir   string
	parts []*partition
	rr    atomic.Uint32 // round robin for messages without a key

	mu     sync.Mutex
	groups map[string]*group
}

// Open opens the log in dir, creating the directory if needed, and recovers
// every partition already in it.
//
// An empty dir gives a throwaway log for tests: it lives in a new temporary
// directory that Close removes, so nothing survives the Log (not durable).
func Open(dir string, opts Options) (*Log, error) {
	var temp bool
	if dir == "" {
		d, err := os.MkdirTemp("", "memlog-")
		if err != nil {
			return nil, fmt.Errorf("memlog: temporary directory: %w", err)
		}
		dir, temp = d, true
	}
	if opts.Partitions <= 0 {
		opts.Partitions = DefaultPartitions
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("memlog: create directory: %w", err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("memlog: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		if temp {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("memlog: %w", err)
	}
	l := &Log{
		dir:     dir,
		opts:    opts,
		backoff: retry.Backoff{Min: opts.MinBackoff, Max: opts.MaxBackoff}.WithDefaults(),
		logger:  opts.Logger.With("component", "memlog"),
		metrics: metrics.New(opts.Registerer),
		lock:    lock,
		temp:    temp,
		topics:  make(map[string]*topic),
		done:    make(chan struct{}),
	}
	// Recover every existing topic now, so that a torn tail is cut off
	// before anything is appended after it.
	entries, err := os.ReadDir(dir)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("memlog: read directory: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || names.Topic(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), topicFile)); err != nil {
			continue
		}
		t, err := l.topic(e.Name())
		if err != nil {
			l.Close()
			return nil, err
		}
		for _, p := range t.parts {
			l.retain(t, p)
		}
	}
	return l, nil
}

const topicFile = "topic.json"

type topicMeta struct {
	Partitions int `json:"partitions"`
}

// topic returns the named topic, opening or creating it.
func (l *Log) topic(name string) (*topic, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, stream.ErrClosed
	}
	if t, ok := l.topics[name]; ok {
		return t, nil
	}
	dir := filepath.Join(l.dir, name)
	meta := topicMeta{Partitions: l.opts.Partitions}
	b, err := os.ReadFile(filepath.Join(dir, topicFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("memlog: create topic %q: %w", name, err)
		}
		b, _ := json.Marshal(meta)
		if err := writeFileAtomic(filepath.Join(dir, topicFile), b); err != nil {
			return nil, fmt.Errorf("memlog: create topic %q: %w", name, err)
		}
		if err := syncDir(l.dir); err != nil {
			return nil, fmt.Errorf("memlog: create topic %q: %w", name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("memlog: open topic %q: %w", name, err)
	default:
		if err := json.Unmarshal(b, &meta); err != nil || meta.Partitions <= 0 {
			return nil, fmt.Errorf("memlog: open topic %q: bad %s", name, topicFile)
		}
		if meta.Partitions != l.opts.Partitions {
			l.logger.Warn("topic keeps the partition count it was created with",
				"topic", name, "partitions", meta.Partitions, "configured", l.opts.Partitions)
		}
	}
	t := &topic{name: name, dir: dir, groups: make(map[string]*group)}
	for i := range meta.Partitions {
		p, err := openPartition(filepath.Join(dir, strconv.Itoa(i)), i, l.opts.SegmentBytes, l.logger.With("topic", name, "partition", i))
		if err != nil {
			for _, p := range t.parts {
				p.close()
			}
			return nil, fmt.Errorf("memlog: topic %q: %w", name, err)
		}
		t.parts = append(t.parts, p)
	}
	l.topics[name] = t
	return t, nil
}

func (t *topic) group(name string) (*group, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g, ok := t.groups[name]; ok {
		return g, nil
	}
	g, err := openGroup(t.dir, name, len(t.parts))
	if err != nil {
		return nil, fmt.Errorf("memlog: topic %q: %w", t.name, err)
	}
	t.groups[name] = g
	return g, nil
}

// Partition returns the partition of n for key, the same choice as
// segmentio/kafka-go's kafka.Hash and Sarama's hash partitioner: FNV-1a
// 32-bit of the key, taken as a signed int32, modulo n, made non-negative.
// A nil key has no partition of its own (ok is false); Publish spreads such
// messages round robin.
func Partition(key []byte, n int) (p int, ok bool) {
	if key == nil {
		return 0, false
	}
	h := fnv.New32a()
	h.Write(key)
	q := int32(h.Sum32()) % int32(n)
	if q < 0 {
		q = -q
	}
	return int(q), true
}

// Publish appends msgs to topic and returns once they are fsynced. Message
// Topic, Partition and Offset are ignored; a zero Time becomes now. Messages
// of one call landing in one partition are written (and synced) together. If
// an error is returned, messages for some partitions may still have been
// written; publishing again duplicates them, which at-least-once allows.
func (l *Log) Publish(ctx context.Context, topicName string, msgs ...stream.Message) error {
	if err := names.Topic(topicName); err != nil {
		return fmt.Errorf("memlog: publish: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memlog: publish to %q: %w", topicName, err)
	}
	if len(msgs) == 0 {
		return nil
	}
	t, err := l.topic(topicName)
	if err != nil {
		return err
	}
	now := time.Now()
	bufs := make([][]byte, len(t.parts))
	counts := make([]int, len(t.parts))
	for i, m := range msgs {
		if n := len(m.Key) + len(m.Value); n > l.opts.MaxMessageBytes {
			return fmt.Errorf("memlog: publish to %q: message %d has %d bytes, more than the limit of %d", topicName, i, n, l.opts.MaxMessageBytes)
		}
		p, ok := Partition(m.Key, len(t.parts))
		if !ok {
			p = int(t.rr.Add(1)-1) % len(t.parts)
		}
		ts := m.Time
		if ts.IsZero() {
			ts = now
		}
		bufs[p] = appendRecord(bufs[p], record{key: m.Key, value: m.Value, time: ts})
		counts[p]++
	}
	for i, buf := range bufs {
		if counts[i] == 0 {
			continue
		}
		rolled, err := t.parts[i].append(buf, counts[i])
		if err != nil {
			l.metrics.Errors.WithLabelValues(topicName, "publish").Inc()
			return fmt.Errorf("memlog: publish to %q: %w", topicName, err)
		}
		l.metrics.Published.WithLabelValues(topicName).Add(float64(counts[i]))
		if rolled {
			l.retain(t, t.parts[i])
		}
	}
	return nil
}

// Consume delivers the records of topic to h for group, one partition per
// goroutine, each in offset order, starting after the group's last commit
// (from the beginning for a new group). A record whose handler fails is
// delivered again after a backoff, and nothing after it in its partition is
// delivered first. Its offset is committed after h returns nil, even if ctx
// is done by then, because the handler's effect is already durable.
//
// Commits are coalesced (see group): Consume does not wait for the offsets
// file after each message, and it writes the final offsets before returning.
//
// Several Consume calls for one group share the partitions: each partition is
// read by one call at a time, the others wait to take over. Consume returns
// nil when ctx is done and stream.ErrClosed when the Log is closed.
func (l *Log) Consume(ctx context.Context, topicName, groupName string, h stream.Handler) error {
	if err := names.Topic(topicName); err != nil {
		return fmt.Errorf("memlog: consume: %w", err)
	}
	if err := names.Group(groupName); err != nil {
		return fmt.Errorf("memlog: consume: %w", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return stream.ErrClosed
	}
	l.consumers.Add(1)
	l.mu.Unlock()
	defer l.consumers.Done()

	t, err := l.topic(topicName)
	if err != nil {
		return err
	}
	g, err := t.group(groupName)
	if err != nil {
		return err
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-cctx.Done():
		}
	}()

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	flushCtx, stopFlusher := context.WithCancel(context.Background())
	flusherDone := make(chan struct{})
	go func() {
		defer close(flusherDone)
		if err := g.flusher(flushCtx); err != nil {
			l.metrics.Errors.WithLabelValues(topicName, "commit").Inc()
			fail(err)
		}
	}()
	for _, p := range t.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.consumePartition(cctx, t, g, p, h); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	stopFlusher()
	<-flusherDone
	// Every handled offset is written before Consume returns, so a clean
	// stop redelivers nothing.
	if err := g.flush(); err != nil {
		l.metrics.Errors.WithLabelValues(topicName, "commit").Inc()
		fail(err)
	}
	switch {
	case firstErr != nil && !errors.Is(firstErr, stream.ErrClosed):
		return fmt.Errorf("memlog: consume %q for group %q: %w", topicName, groupName, firstErr)
	case ctx.Err() != nil:
		return nil
	default:
		return stream.ErrClosed
	}
}

func (l *Log) consumePartition(ctx context.Context, t *topic, g *group, p *partition, h stream.Handler) error {
	select {
	case g.owners[p.id] <- struct{}{}:
	case <-ctx.Done():
		return nil
	}
	defer func() { <-g.owners[p.id] }()

	next, _, err := p.state()
	if err != nil {
		return err
	}
	off := g.offset(p.id)
	if off > next {
		// Only lost segment files can cause this. Like a Kafka consumer with
		// auto.offset.reset=earliest (what stream/kafka uses), start over:
		// redelivery is harmless, skipping records is not.
		l.logger.Warn("committed offset is past the end of the partition, reading it from the beginning",
			"topic", t.name, "partition", p.id, "group", g.name, "committed", off, "end", next)
		off = 0
	}
	r, err := p.newReader(off)
	if err != nil {
		return err
	}
	defer r.close()
	handled := l.metrics.Handled.WithLabelValues(t.name, g.name)
	handlerErrors := l.metrics.HandlerErrors.WithLabelValues(t.name, g.name)
	logger := l.logger.With("topic", t.name, "group", g.name)
	for {
		next, wake, err := p.state()
		if err != nil {
			return err
		}
		if r.off >= next {
			select {
			case <-wake:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		rec, off, err := r.read()
		if err != nil {
			l.metrics.Errors.WithLabelValues(t.name, "fetch").Inc()
			return err
		}
		m := stream.Message{Topic: t.name, Key: rec.key, Value: rec.value, Partition: p.id, Offset: off, Time: rec.time}
		if !retry.Deliver(ctx, h, m, l.backoff, logger, handlerErrors.Inc) {
			return nil
		}
		handled.Inc()
		g.commit(p.id, off+1)
	}
}

// retain applies Options.Retention to partition p of t. Failures are logged:
// keeping a segment too long is harmless.
func (l *Log) retain(t *topic, p *partition) {
	if l.opts.Retention <= 0 {
		return
	}
	upTo, ok, err := t.committedByAll(p.id)
	if err != nil {
		l.logger.Warn("retention skipped", "topic", t.name, "partition", p.id, "error", err)
		return
	}
	if !ok {
		return
	}
	dropped, err := p.dropSegments(upTo, time.Now().Add(-l.opts.Retention))
	if err != nil {
		l.logger.Warn("retention failed", "topic", t.name, "partition", p.id, "error", err)
	}
	if len(dropped) > 0 {
		l.logger.Info("deleted old log segments", "topic", t.name, "partition", p.id, "base_offsets", dropped)
	}
}

// committedByAll is the lowest durably committed offset of partition over
// every group of t: those open in this process and those only on disk. With
// no group at all, ok is false: nothing has read the partition yet.
func (t *topic) committedByAll(partition int) (offset int64, ok bool, err error) {
	t.mu.Lock()
	open := make(map[string]*group, len(t.groups))
	for name, g := range t.groups {
		open[name] = g
	}
	t.mu.Unlock()
	offset = math.MaxInt64
	for _, g := range open {
		g.writeMu.Lock()
		offset = min(offset, g.written[partition])
		g.writeMu.Unlock()
		ok = true
	}
	files, err := filepath.Glob(filepath.Join(t.dir, "group-*.json"))
	if err != nil {
		return 0, false, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, false, err
		}
		var of offsetsFile
		if err := json.Unmarshal(b, &of); err != nil {
			return 0, false, fmt.Errorf("parse %s: %w", f, err)
		}
		if _, isOpen := open[of.Group]; isOpen {
			continue
		}
		var committed int64
		if partition < len(of.Offsets) {
			committed = of.Offsets[partition]
		}
		offset = min(offset, committed)
		ok = true
	}
	return offset, ok, nil
}

// Ping reports whether the log is open and its directory reachable.
func (l *Log) Ping(ctx context.Context) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return stream.ErrClosed
	}
	if _, err := os.Stat(l.dir); err != nil {
		return fmt.Errorf("memlog: %w", err)
	}
	return ctx.Err()
}

// Close stops every Consume call, waits for them to return (a running handler
// sees its context cancelled), and closes the files. Close is idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()

	l.consumers.Wait()
	var errs []error
	for _, t := range l.topics {
		for _, p := range t.parts {
			errs = append(errs, p.close())
		}
	}
	errs = append(errs, l.lock.Close())
	if l.temp {
		errs = append(errs, os.RemoveAll(l.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("memlog: close: %w", err)
	}
	return nil
}
