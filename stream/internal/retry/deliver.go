package retry

import (
	"context"
	"log/slog"

	"github.com/mashangban/mashangban/stream"
)

// Deliver hands m to h until h returns nil, waiting b.Delay between
// attempts, and reports whether it succeeded; it gives up, returning false,
// only when ctx is done. failed is called after each failed attempt. The first
// failure is logged as a warning, later ones at debug level, and success after
// failures once more as info: one line per change of state, not per attempt.
func Deliver(ctx context.Context, h stream.Handler, m stream.Message, b Backoff, logger *slog.Logger, failed func()) bool {
	var lastErr error
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		err := h(ctx, m)
		if err == nil {
			if attempt > 1 {
				logger.Info("handler succeeded after failures", "partition", m.Partition, "offset", m.Offset,
					"attempts", attempt, "last_error", lastErr)
			}
			return true
		}
		lastErr = err
		failed()
		d := b.Delay(attempt)
		level := slog.LevelDebug
		if attempt == 1 {
			level = slog.LevelWarn
		}
		logger.Log(ctx, level, "handler failed, delivering the message again", "partition", m.Partition,
			"offset", m.Offset, "attempt", attempt, "backoff", d, "error", err)
		if Sleep(ctx, d) != nil {
			return false
		}
	}
}
