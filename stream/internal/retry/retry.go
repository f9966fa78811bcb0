// Package retry paces the redelivery of a message whose handler failed:
// capped exponential backoff that gives way to context cancellation.
package retry

import (
	"context"
	"time"
)

// Default bounds of the backoff between deliveries of a failing message.
const (
	DefaultMin = 100 * time.Millisecond
	DefaultMax = 5 * time.Second
)

// Backoff is a capped exponential backoff: Min after the first failure,
// doubling up to Max.
type Backoff struct {
	Min, Max time.Duration
}

// WithDefaults fills zero bounds with DefaultMin and DefaultMax.
func (b Backoff) WithDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = DefaultMin
	}
	if b.Max <= 0 {
		b.Max = DefaultMax
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	return b
}

// Delay is the wait after the attempt-th consecutive failure (attempt >= 1).
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Min
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Sleep waits d or until ctx is done, whichever comes first, and reports
// ctx.Err() in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
