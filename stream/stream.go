// Package stream is mashangban's durable message log: the posts log between
// ingest and classify, and the decisions log between classify and dispatch.
//
// One small interface, two implementations: Kafka through segmentio/kafka-go
// (stream/kafka) for deployments that spread stages over machines, and an
// in-process log (stream/memlog) for the embedded default. Both keep the same
// contract, checked by one test suite (stream/streamtest).
//
// It is not a general Kafka client: no admin operations beyond creating the
// topics mashangban needs, no transactions.
package stream

import (
	"context"
	"errors"
	"time"
)

// ErrClosed is returned by Publish and Consume on a Log that has been closed.
var ErrClosed = errors.New("stream: log closed")

// Topic names used by mashangban (prefixed by the configured namespace).
const (
	TopicPosts     = "posts"
	TopicDecisions = "decisions"
)

// Message is one record of a log.
type Message struct {
	Topic     string
	Key       []byte
	Value     []byte
	Partition int
	Offset    int64
	Time      time.Time
}

// Handler processes one message. Returning nil means the message's effect is
// durable and its offset may be committed. Returning an error means the
// message is delivered again (after a backoff) and nothing after it in the
// same partition is delivered first. A handler that meets bad input records
// a dead letter and returns nil; it never returns an error for input that
// will never succeed.
//
// A Handler may be called concurrently for messages of different partitions
// (the in-process log runs one goroutine per partition), never for two
// messages of one partition.
type Handler func(ctx context.Context, m Message) error

// Log is a durable, partitioned, keyed message log with consumer groups.
//
// Contract (every implementation):
//   - Publish returns only after every message is durable (Kafka: acks from all
//     in-sync replicas). Messages with the same key keep their order.
//   - Consume delivers each message at least once to one member of the group;
//     a group resumes after its last committed offset, so a message whose
//     handler returned nil is not delivered to that group again, barring a
//     crash between the handler's return and the commit.
//   - Consume blocks until ctx is done (returns nil) or the log fails.
type Log interface {
	Publish(ctx context.Context, topic string, msgs ...Message) error
	Consume(ctx context.Context, topic, group string, h Handler) error
	// Ping reports whether the log is reachable (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}
