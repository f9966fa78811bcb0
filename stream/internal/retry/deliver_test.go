package retry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/stream"
)

func TestDeliver(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	calls, failures := 0, 0
	h := func(ctx context.Context, m stream.Message) error {
		calls++
		if calls <= 3 {
			return errors.New("store unavailable")
		}
		return nil
	}
	ok := Deliver(context.Background(), h, stream.Message{Offset: 7}, Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}, logger, func() { failures++ })
	if !ok || calls != 4 || failures != 3 {
		t.Fatalf("Deliver = %v after %d calls, %d failures; want true, 4, 3", ok, calls, failures)
	}
	out := logs.String()
	if n := strings.Count(out, "handler failed"); n != 1 {
		t.Errorf("%d warnings for 3 failures, want 1 (later attempts at debug):\n%s", n, out)
	}
	if !strings.Contains(out, "handler succeeded after failures") || !strings.Contains(out, "attempts=4") {
		t.Errorf("no recovery line:\n%s", out)
	}
}

func TestDeliverGivesUpOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	h := func(ctx context.Context, m stream.Message) error {
		calls++
		cancel()
		return errors.New("store unavailable")
	}
	if Deliver(ctx, h, stream.Message{}, Backoff{Min: time.Hour, Max: time.Hour}, slog.New(slog.DiscardHandler), func() {}) {
		t.Fatal("Deliver succeeded")
	}
	if calls != 1 {
		t.Errorf("handler called %d times after cancel", calls)
	}
}
