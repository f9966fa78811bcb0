// Package kafka is mashangban's message log on Apache Kafka, through
// segmentio/kafka-go, for deployments that run ingest, classify and dispatch
// as separate processes. It implements stream.Log with the same contract as
// the in-process log (stream/memlog), checked by stream/streamtest.
//
// Publish writes synchronously with acks from all in-sync replicas
// (RequiredAcks = RequireAll) and the key-hash balancer (kafka.Hash: FNV-1a,
// as Sarama and the in-process log choose partitions), so a key keeps its
// order. Consume runs one kafka.Reader per call in the consumer group,
// fetches, runs the handler, and commits synchronously only after the handler
// returned nil; a failing message is handed to the handler again after a
// backoff and the reader does not move past it.
//
// Consumer group timings default to a 1 s heartbeat and a 10 s session and
// rebalance timeout, so a member that died without leaving the group (kill
// -9, a lost machine) holds its partitions for about 10 s, not kafka-go's 30.
//
// Connections can use TLS and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), as
// managed Kafka services require; the client, the writer and every reader
// share one TLS configuration and one mechanism.
//
// Topics are named TopicPrefix + name ("mashangban.posts") and created on
// first use with the configured partitions and replication factor. It is not
// a general Kafka client: no other admin operations, no transactions.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/mashangban/mashangban/stream"
	"github.com/mashangban/mashangban/stream/internal/metrics"
	"github.com/mashangban/mashangban/stream/internal/names"
	"github.com/mashangban/mashangban/stream/internal/retry"
)

// Defaults for Options.
const (
	DefaultClientID        = "mashangban"
	DefaultPartitions      = 1
	DefaultReplication     = 1
	DefaultBatchTimeout    = 5 * time.Millisecond
	DefaultMaxMessageBytes = 1 << 20
	DefaultTimeout         = 10 * time.Second
	DefaultFetchMaxWait    = 500 * time.Millisecond
	// The session timeout is how long the coordinator keeps a member that
	// stopped heartbeating, and so how long a killed consumer's partitions
	// go unread. Kafka's default group.min.session.timeout.ms is 6 s.
	DefaultSessionTimeout    = 10 * time.Second
	DefaultHeartbeatInterval = time.Second
	DefaultRebalanceTimeout  = 10 * time.Second
)

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASL authenticates to the brokers.
type SASL struct {
	Mechanism string // SASLPlain, SASLScramSHA256 or SASLScramSHA512
	Username  string
	Password  string
}

func (s *SASL) mechanism() (sasl.Mechanism, error) {
	switch s.Mechanism {
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	default:
		return nil, fmt.Errorf("unknown SASL mechanism %q (want %s, %s or %s)", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
}

// Options configure a Log.
type Options struct {
	// Brokers to bootstrap from, "host:port". At least one is required.
	Brokers []string
	// TopicPrefix namespaces mashangban's topics, e.g. "mashangban.".
	TopicPrefix string
	// ClientID names this process to the brokers (default "mashangban").
	ClientID string
	// Partitions and ReplicationFactor of topics this Log creates (defaults 1
	// and 1; use 3 replicas in production). An existing topic is left as it is.
	Partitions        int
	ReplicationFactor int
	// Topics are created by Open (default stream.TopicPosts and
	// stream.TopicDecisions, without the prefix). Other topics are created on
	// their first Publish or Consume.
	Topics []string
	// BatchTimeout is how long the writer waits for more messages before
	// sending a partial batch; it is the floor of Publish's latency.
	BatchTimeout time.Duration
	// MaxMessageBytes bounds one write request (kafka-go's BatchBytes); keep
	// it at or below the brokers' message.max.bytes.
	MaxMessageBytes int
	// FetchMaxWait is how long a fetch waits at the broker for new messages
	// (default 500ms). Closing a reader waits for the fetch in flight, so it
	// is also about how long Consume takes to return after ctx is done.
	FetchMaxWait time.Duration
	// Timeout bounds a broker request: dial, metadata, topic creation, commit.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a message whose
	// handler failed is delivered again (defaults 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	// Consumer group timings (defaults 1s, 10s, 10s, and kafka-go's 5s). The
	// brokers' group.min.session.timeout.ms and group.max.session.timeout.ms
	// bound SessionTimeout; HeartbeatInterval should be at most a third of it.
	HeartbeatInterval, SessionTimeout, RebalanceTimeout, JoinGroupBackoff time.Duration
	// TLS, if not nil, encrypts every connection to the brokers.
	TLS *tls.Config
	// SASL, if not nil, authenticates every connection to the brokers.
	SASL   *SASL
	Logger *slog.Logger
	// Registerer receives the mashangban_stream_* metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Log is a stream.Log on Kafka. It is safe for concurrent use.
type Log struct {
	opts      Options
	backoff   retry.Backoff
	logger    *slog.Logger
	metrics   *metrics.Metrics
	client    *kafkago.Client
	transport *kafkago.Transport // shared by client and writer
	writer    *kafkago.Writer
	dialer    *kafkago.Dialer

	mu      sync.Mutex
	created map[string]bool // full topic names known to exist
	closed  bool
	// users counts Publish and Consume calls in progress; Close waits for them.
	users sync.WaitGroup
	done  chan struct{} // closed by Close
}

var _ stream.Log = (*Log)(nil)

// Open connects to the brokers and creates opts.Topics, waiting until the
// brokers' metadata lists them, so that a consumer group joining right after
// gets every partition assigned.
func Open(ctx context.Context, opts Options) (*Log, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers given")
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.Partitions <= 0 {
		opts.Partitions = DefaultPartitions
	}
	if opts.ReplicationFactor <= 0 {
		opts.ReplicationFactor = DefaultReplication
	}
	if opts.Topics == nil {
		opts.Topics = []string{stream.TopicPosts, stream.TopicDecisions}
	}
	if opts.BatchTimeout <= 0 {
		opts.BatchTimeout = DefaultBatchTimeout
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.FetchMaxWait <= 0 {
		opts.FetchMaxWait = DefaultFetchMaxWait
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = min(DefaultHeartbeatInterval, opts.SessionTimeout/3)
	}
	if opts.RebalanceTimeout <= 0 {
		opts.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var mechanism sasl.Mechanism
	if opts.SASL != nil {
		m, err := opts.SASL.mechanism()
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		mechanism = m
	}
	for _, t := range opts.Topics {
		if err := names.Topic(t); err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		if err := names.Topic(opts.TopicPrefix + t); err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
	}
	logger := opts.Logger.With("component", "kafka")
	transport := &kafkago.Transport{ClientID: opts.ClientID, DialTimeout: opts.Timeout, TLS: opts.TLS, SASL: mechanism}
	l := &Log{
		opts:      opts,
		backoff:   retry.Backoff{Min: opts.MinBackoff, Max: opts.MaxBackoff}.WithDefaults(),
		logger:    logger,
		metrics:   metrics.New(opts.Registerer),
		transport: transport,
		client:    &kafkago.Client{Addr: kafkago.TCP(opts.Brokers...), Transport: transport, Timeout: opts.Timeout},
		writer: &kafkago.Writer{
			Addr:         kafkago.TCP(opts.Brokers...),
			Balancer:     &kafkago.Hash{},
			RequiredAcks: kafkago.RequireAll,
			BatchTimeout: opts.BatchTimeout,
			BatchBytes:   int64(opts.MaxMessageBytes),
			ReadTimeout:  opts.Timeout,
			WriteTimeout: opts.Timeout,
			Transport:    transport,
			Logger:       kafkaLogger(logger, slog.LevelDebug),
			ErrorLogger:  kafkaLogger(logger, slog.LevelDebug),
		},
		dialer:  &kafkago.Dialer{ClientID: opts.ClientID, Timeout: opts.Timeout, DualStack: true, TLS: opts.TLS, SASLMechanism: mechanism},
		created: make(map[string]bool),
		done:    make(chan struct{}),
	}
	// kafka-go's client reports a failed TLS handshake or SASL exchange as
	// "Broker Not Available"; the dialer says what went wrong.
	err := l.Ping(ctx)
	if err == nil {
		err = l.ensureTopics(ctx, opts.Topics...)
	}
	if err != nil {
		l.writer.Close()
		transport.CloseIdleConnections()
		return nil, err
	}
	return l, nil
}

// kafkaLogger adapts kafka-go's loggers. Its error logger repeats a line per
// retry (every 100ms while a broker is down), so both go to debug; this
// package logs the state changes: fetch failing and recovering, commits
// failing, and Publish returns its error to the caller.
func kafkaLogger(l *slog.Logger, level slog.Level) kafkago.LoggerFunc {
	return func(format string, args ...any) {
		l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)))
	}
}

// fullTopic checks a topic name and returns it with the prefix.
func (l *Log) fullTopic(topic string) (string, error) {
	if err := names.Topic(topic); err != nil {
		return "", err
	}
	full := l.opts.TopicPrefix + topic
	return full, names.Topic(full)
}

// begin registers a Publish or Consume call, or reports that the Log is closed.
func (l *Log) begin() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return stream.ErrClosed
	}
	l.users.Add(1)
	return nil
}

// ensureTopics creates the topics (names without prefix) that this Log has
// not yet seen exist, then waits until metadata shows each with a leader for
// every partition.
func (l *Log) ensureTopics(ctx context.Context, topics ...string) error {
	var missing []kafkago.TopicConfig
	l.mu.Lock()
	for _, t := range topics {
		if !l.created[l.opts.TopicPrefix+t] {
			missing = append(missing, kafkago.TopicConfig{
				Topic:             l.opts.TopicPrefix + t,
				NumPartitions:     l.opts.Partitions,
				ReplicationFactor: l.opts.ReplicationFactor,
			})
		}
	}
	l.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	resp, err := l.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: missing})
	if err != nil {
		return fmt.Errorf("kafka: create topics: %w", err)
	}
	full := make([]string, 0, len(missing))
	for _, tc := range missing {
		full = append(full, tc.Topic)
		switch err := resp.Errors[tc.Topic]; {
		case err == nil:
			l.logger.Info("created topic", "topic", tc.Topic, "partitions", tc.NumPartitions, "replication_factor", tc.ReplicationFactor)
		case errors.Is(err, kafkago.TopicAlreadyExists):
		default:
			return fmt.Errorf("kafka: create topic %q: %w", tc.Topic, err)
		}
	}
	if err := l.waitForTopics(ctx, full); err != nil {
		return err
	}
	l.mu.Lock()
	for _, t := range full {
		l.created[t] = true
	}
	l.mu.Unlock()
	return nil
}

// waitForTopics polls metadata until every topic has partitions with leaders.
// Brokers answer CreateTopics before every broker's metadata cache knows the
// topic; a group joined in that window would be assigned nothing. The
// client's metadata comes from kafka-go's transport cache (refreshed after a
// successful CreateTopics, else every few seconds), so a topic another
// process created a moment ago can take a few polls to appear.
func (l *Log) waitForTopics(ctx context.Context, topics []string) error {
	for attempt := 1; ; attempt++ {
		md, err := l.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
		if err == nil {
			err = topicsReady(md, topics)
		}
		if err == nil {
			return nil
		}
		if attempt >= 50 || retry.Sleep(ctx, min(time.Duration(attempt)*20*time.Millisecond, time.Second)) != nil {
			return fmt.Errorf("kafka: waiting for new topics in metadata: %w", err)
		}
	}
}

func topicsReady(md *kafkago.MetadataResponse, topics []string) error {
	for _, name := range topics {
		var found *kafkago.Topic
		for i := range md.Topics {
			if md.Topics[i].Name == name {
				found = &md.Topics[i]
			}
		}
		switch {
		case found == nil:
			return fmt.Errorf("topic %q not in metadata", name)
		case found.Error != nil:
			return fmt.Errorf("topic %q: %w", name, found.Error)
		case len(found.Partitions) == 0:
			return fmt.Errorf("topic %q has no partitions yet", name)
		}
		for _, p := range found.Partitions {
			if p.Error != nil {
				return fmt.Errorf("topic %q partition %d: %w", name, p.ID, p.Error)
			}
			if p.Leader.ID < 0 || p.Leader.Host == "" {
				return fmt.Errorf("topic %q partition %d has no leader", name, p.ID)
			}
		}
	}
	return nil
}

// Publish writes msgs to topic and returns after every in-sync replica has
// them. Message Topic, Partition and Offset are ignored; a zero Time becomes
// now. On error some messages may have been written, or may still be: when
// ctx ends first, kafka-go's writer keeps the batch and can deliver it once a
// broker is back. Publishing again duplicates them, which at-least-once allows.
func (l *Log) Publish(ctx context.Context, topic string, msgs ...stream.Message) error {
	if _, err := l.fullTopic(topic); err != nil {
		return fmt.Errorf("kafka: publish: %w", err)
	}
	if err := l.begin(); err != nil {
		return err
	}
	defer l.users.Done()
	if len(msgs) == 0 {
		return nil
	}
	if err := l.ensureTopics(ctx, topic); err != nil {
		return err
	}
	now := time.Now()
	kms := make([]kafkago.Message, len(msgs))
	for i, m := range msgs {
		kms[i] = kafkago.Message{Topic: l.opts.TopicPrefix + topic, Key: m.Key, Value: m.Value, Time: m.Time}
		if m.Time.IsZero() {
			kms[i].Time = now
		}
	}
	if err := l.writer.WriteMessages(ctx, kms...); err != nil {
		l.metrics.Errors.WithLabelValues(topic, "publish").Inc()
		return fmt.Errorf("kafka: publish %d messages to %q: %w", len(msgs), l.opts.TopicPrefix+topic, err)
	}
	l.metrics.Published.WithLabelValues(topic).Add(float64(len(msgs)))
	return nil
}

// Consume joins group and delivers topic's messages to h until ctx is done
// (returns nil) or the Log is closed (returns stream.ErrClosed). Messages
// come in offset order per partition; the reader hands over one message at a
// time, so a failing message holds back every partition assigned to this
// member, not only its own. The offset is committed after h returns nil, even
// if ctx is done by then, because the handler's effect is already durable.
//
// Fetch errors (a broker down, a rebalance) are logged and retried: kafka-go
// reconnects and rejoins by itself.
func (l *Log) Consume(ctx context.Context, topic, group string, h stream.Handler) error {
	full, err := l.fullTopic(topic)
	if err != nil {
		return fmt.Errorf("kafka: consume: %w", err)
	}
	if err := names.Group(group); err != nil {
		return fmt.Errorf("kafka: consume: %w", err)
	}
	if err := l.begin(); err != nil {
		return err
	}
	defer l.users.Done()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-cctx.Done():
		}
	}()
	result := func() error {
		if ctx.Err() != nil {
			return nil
		}
		return stream.ErrClosed
	}

	if err := l.ensureTopics(cctx, topic); err != nil {
		if cctx.Err() != nil {
			return result()
		}
		return err
	}
	logger := l.logger.With("topic", full, "group", group)
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:               l.opts.Brokers,
		GroupID:               group,
		Topic:                 full,
		Dialer:                l.dialer,
		StartOffset:           kafkago.FirstOffset, // a new group reads the whole log
		CommitInterval:        0,                   // synchronous commits
		MaxBytes:              max(l.opts.MaxMessageBytes, 1<<20),
		MaxWait:               l.opts.FetchMaxWait,
		WatchPartitionChanges: true,
		HeartbeatInterval:     l.opts.HeartbeatInterval,
		SessionTimeout:        l.opts.SessionTimeout,
		RebalanceTimeout:      l.opts.RebalanceTimeout,
		JoinGroupBackoff:      l.opts.JoinGroupBackoff,
		Logger:                kafkaLogger(logger, slog.LevelDebug),
		ErrorLogger:           kafkaLogger(logger, slog.LevelDebug),
	})
	// Close leaves the group, so the remaining members take over this
	// member's partitions at once instead of after the session timeout.
	defer r.Close()
	handled := l.metrics.Handled.WithLabelValues(topic, group)
	handlerErrors := l.metrics.HandlerErrors.WithLabelValues(topic, group)

	for fetchFailures := 0; ; {
		km, err := r.FetchMessage(cctx)
		if err != nil {
			if cctx.Err() != nil {
				return result()
			}
			fetchFailures++
			l.metrics.Errors.WithLabelValues(topic, "fetch").Inc()
			d := l.backoff.Delay(fetchFailures)
			level := slog.LevelDebug
			if fetchFailures == 1 {
				level = slog.LevelWarn
			}
			logger.Log(cctx, level, "fetch failed, retrying", "attempt", fetchFailures, "backoff", d, "error", err)
			if retry.Sleep(cctx, d) != nil {
				return result()
			}
			continue
		}
		if fetchFailures > 0 {
			logger.Info("fetching again after failures", "attempts", fetchFailures+1)
			fetchFailures = 0
		}
		m := stream.Message{
			Topic:     strings.TrimPrefix(km.Topic, l.opts.TopicPrefix),
			Key:       km.Key,
			Value:     km.Value,
			Partition: km.Partition,
			Offset:    km.Offset,
			Time:      km.Time,
		}
		if !retry.Deliver(cctx, h, m, l.backoff, logger, handlerErrors.Inc) {
			return result()
		}
		handled.Inc()
		// The commit must not be abandoned because ctx ended while the
		// handler ran: the handler's effect is durable, and an uncommitted
		// offset means a redelivery after the restart.
		commitCtx, cancelCommit := context.WithTimeout(context.WithoutCancel(cctx), l.opts.Timeout)
		err = r.CommitMessages(commitCtx, km)
		cancelCommit()
		if err != nil {
			l.metrics.Errors.WithLabelValues(topic, "commit").Inc()
			// Not fatal: the message is delivered again later (to this or
			// another member), which at-least-once allows.
			logger.Warn("commit failed; the message will be delivered again", "partition", m.Partition,
				"offset", m.Offset, "error", err)
		}
	}
}

// Ping dials the brokers in turn and asks the first that answers for cluster
// metadata. It does not use the writer's transport, whose metadata is cached
// and would answer while every broker is down.
func (l *Log) Ping(ctx context.Context) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return stream.ErrClosed
	}
	var errs []error
	for _, b := range l.opts.Brokers {
		err := l.pingBroker(ctx, b)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("kafka: ping: %w", errors.Join(errs...))
}

func (l *Log) pingBroker(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	conn, err := l.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	brokers, err := conn.Brokers()
	if err != nil {
		return fmt.Errorf("%s: metadata: %w", addr, err)
	}
	if len(brokers) == 0 {
		return fmt.Errorf("%s: metadata lists no brokers", addr)
	}
	return nil
}

// Close stops every Consume call (their readers leave the group), waits for
// them and for Publish calls in progress, then flushes and closes the writer.
// Close is idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	l.users.Wait()
	err := l.writer.Close()
	l.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("kafka: close writer: %w", err)
	}
	return nil
}
