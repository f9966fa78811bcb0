package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
)

// sendBatch is how many due replies of a channel are read at once.
const sendBatch = 50

// RunSender drains the outbox until ctx is done, one worker per channel in
// repliers. Replies for channels without a replier stay queued.
func (d *Dispatcher) RunSender(ctx context.Context, repliers map[model.Channel]reply.Replier) error {
	var wg sync.WaitGroup
	for ch, r := range repliers {
		w := d.newWorker(ch, r)
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	return nil
}

// SendDue sends, once, every reply that is due now on the channels of
// repliers, and returns how many attempts it made. A channel that asks to
// back off is left for the next call.
func (d *Dispatcher) SendDue(ctx context.Context, repliers map[model.Channel]reply.Replier) (int, error) {
	total := 0
	var errs []error
	for ch, r := range repliers {
		w := d.newWorker(ch, r)
		w.lim = rate.NewLimiter(rate.Inf, 1)
		n, err := w.drain(ctx)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// rated is implemented by repliers that know their platform's rate.
type rated interface {
	Rate() rate.Limit
	Burst() int
}

type worker struct {
	d     *Dispatcher
	ch    model.Channel
	r     reply.Replier
	lim   *rate.Limiter
	pause time.Time // the platform asked to wait until then
	log   *slog.Logger
}

func (d *Dispatcher) newWorker(ch model.Channel, r reply.Replier) *worker {
	lim := rate.NewLimiter(1, 1)
	if l, ok := d.opts.Rates[ch]; ok {
		lim = rate.NewLimiter(l, 1)
	} else if rr, ok := r.(rated); ok {
		lim = rate.NewLimiter(rr.Rate(), max(rr.Burst(), 1))
	}
	return &worker{d: d, ch: ch, r: r, lim: lim, log: d.log.With("channel", string(ch))}
}

func (w *worker) run(ctx context.Context) {
	for {
		wake := w.d.wakeC()
		n, err := w.drain(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.log.ErrorContext(ctx, "outbox", "error", err)
		}
		wait := w.d.opts.PollEvery
		if p := time.Until(w.pause); p > wait {
			wait = p
		} else if n > 0 && err == nil {
			continue // there may be more due right away
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// drain attempts the channel's due replies once.
func (w *worker) drain(ctx context.Context) (int, error) {
	now := w.d.now()
	if now.Before(w.pause) {
		return 0, nil
	}
	items, err := w.d.st.DueReplies(ctx, string(w.ch), now, sendBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		if err := w.lim.Wait(ctx); err != nil {
			return n, nil // stopping
		}
		n++
		if err := w.attempt(ctx, it); err != nil {
			return n, err
		}
		if ctx.Err() != nil || w.d.now().Before(w.pause) {
			return n, nil
		}
	}
	return n, nil
}

// attempt makes one delivery attempt. The attempt is committed as "sending"
// before the platform is called; a reply found in "sending" (a crash, or an
// error after which it may have arrived) is checked with Sent first.
func (w *worker) attempt(ctx context.Context, it store.OutboxItem) error {
	d := w.d
	now := d.now()
	recovered := it.State == store.OutboxSending
	ok, err := d.st.BeginSend(ctx, it, now.Add(d.opts.Lease))
	if err != nil || !ok {
		return err // !ok: another sender took it
	}
	it.Attempts++
	rep := reply.Reply{PostID: it.PostID, NativeID: it.NativeID, AuthorID: it.AuthorID, Kind: it.Kind,
		CaseNo: it.CaseNo, Text: it.Text, Fields: it.Fields}
	_, once := w.r.(atMostOnce)
	if recovered && once {
		// Interrupted mid-call: it may have arrived, and it is not sent twice.
		return w.finish(ctx, it, store.OutboxFailed, "", "interrupted during delivery; may have arrived, not sent again", "failed")
	}
	if recovered {
		sent, err := w.r.Sent(ctx, rep)
		if ctx.Err() != nil {
			return nil // stopping; the lease runs out and the next start checks again
		}
		if err != nil {
			return w.retry(ctx, it, store.OutboxSending, err)
		}
		if sent {
			return w.finish(ctx, it, store.OutboxSent, "", "delivered by an earlier attempt", "already_sent")
		}
	}
	res, err := w.r.Send(ctx, rep)
	if ctx.Err() != nil {
		// Stopping mid-call: whether it arrived is unknown. The row stays
		// "sending"; after the lease the next attempt asks the platform.
		return nil
	}
	var be *ingest.BackoffError
	switch {
	case err == nil && res.Skipped:
		return w.finish(ctx, it, store.OutboxSkipped, "", res.Reason, "skipped")
	case err == nil:
		return w.finish(ctx, it, store.OutboxSent, res.RemoteID, "", "sent")
	case errors.Is(err, reply.ErrGone):
		return w.finish(ctx, it, store.OutboxSkipped, "", err.Error(), "skipped")
	case errors.As(err, &be):
		// The platform refused before doing anything: not delivered.
		w.pause = d.now().Add(be.Wait)
		w.count("retry")
		return d.st.RetrySend(ctx, it.ID, store.OutboxQueued, w.pause, err.Error())
	case errors.Is(err, ingest.ErrRateLimited):
		return w.retry(ctx, it, store.OutboxQueued, err)
	case once && errors.Is(err, ingest.ErrTransient):
		// Certainly not taken (busy, connection refused): send again.
		return w.retry(ctx, it, store.OutboxQueued, err)
	case once:
		// Refused for good, or the answer was lost: not sent again.
		return w.finish(ctx, it, store.OutboxFailed, "", err.Error(), "failed")
	}
	return w.retry(ctx, it, store.OutboxSending, err)
}

func (w *worker) retry(ctx context.Context, it store.OutboxItem, state string, cause error) error {
	d := w.d
	if it.Attempts >= d.opts.MaxAttempts {
		return w.finish(ctx, it, store.OutboxFailed, "", cause.Error(), "failed")
	}
	w.count("retry")
	w.log.WarnContext(ctx, what(it)+" not sent, will retry", "post_id", it.PostID, "attempts", it.Attempts,
		"category", ingest.Class(cause), "error", cause)
	return d.st.RetrySend(ctx, it.ID, state, d.now().Add(d.backoff(it.Attempts)), cause.Error())
}

func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.opts.RetryBase
	for i := 1; i < attempts && b < d.opts.RetryMax; i++ {
		b *= 2
	}
	return min(b, d.opts.RetryMax)
}

func (w *worker) finish(ctx context.Context, it store.OutboxItem, state, remoteID, reason, result string) error {
	d := w.d
	now := d.now()
	err := d.st.DB.InTx(ctx, func(tx store.Tx) error {
		if err := d.st.FinishSend(ctx, tx, it.ID, state, remoteID, reason, now); err != nil {
			return err
		}
		if it.Kind == store.OutboxNotice {
			return d.event(ctx, tx, noticeEvent(it, state, now), map[string]any{"notice": it.Fields["kind"], "case_no": it.CaseNo,
				"department": it.Fields["department"], "key": it.PostID, "attempts": it.Attempts, "reason": reason})
		}
		return d.event(ctx, tx, store.Event{At: now, Kind: "reply." + state, PostID: it.PostID, Actor: "sender",
			DedupKey: fmt.Sprintf("reply:%d:%s", it.ID, state)},
			map[string]any{"kind": it.Kind, "case_no": it.CaseNo, "channel": it.Channel, "attempts": it.Attempts,
				"remote_id": remoteID, "reason": reason})
	})
	if err != nil {
		return err
	}
	w.count(result)
	w.log.InfoContext(ctx, what(it)+" "+state, "post_id", it.PostID, "case_no", it.CaseNo, "kind", it.Kind, "reason", reason)
	return nil
}

// what names an outbox item in log lines.
func what(it store.OutboxItem) string {
	if it.Kind == store.OutboxNotice {
		return "notice"
	}
	return "reply"
}

// count adds one to the channel's send metric: notices by department,
// replies by channel.
func (w *worker) count(result string) {
	if dept, ok := strings.CutPrefix(string(w.ch), noticeChannelPrefix); ok {
		w.d.m.noticeSends.WithLabelValues(dept, result).Inc()
		return
	}
	w.d.m.sends.WithLabelValues(string(w.ch), result).Inc()
}

// noticeEvent is the audit event of a notice's delivery: notice.sent or
// notice.failed, on the notice's case and assignment.
func noticeEvent(it store.OutboxItem, state string, now time.Time) store.Event {
	e := store.Event{At: now, Kind: "notice." + state, Actor: "sender", DedupKey: fmt.Sprintf("notice:%d:%s", it.ID, state)}
	if id, err := strconv.ParseInt(it.Fields["case_id"], 10, 64); err == nil {
		e.CaseID = &id
	}
	if id, err := strconv.ParseInt(it.Fields["assignment_id"], 10, 64); err == nil {
		e.AssignmentID = &id
	}
	return e
}

// LogReplier is the replay channel's replier: it writes each reply as a log
// line. It cannot tell whether a line was written before a crash, so a reply
// interrupted mid-call is logged again.
type LogReplier struct {
	Logger *slog.Logger
}

// Channel implements reply.Replier.
func (LogReplier) Channel() model.Channel { return model.ChannelReplay }

// Send implements reply.Replier.
func (l LogReplier) Send(ctx context.Context, r reply.Reply) (reply.SendResult, error) {
	l.Logger.InfoContext(ctx, "reply", "post_id", r.PostID, "kind", r.Kind, "case_no", r.CaseNo, "text", r.Text)
	return reply.SendResult{RemoteID: "log"}, nil
}

// Sent implements reply.Replier.
func (LogReplier) Sent(context.Context, reply.Reply) (bool, error) { return false, nil }

// Rate and Burst: a log line costs nothing.
func (LogReplier) Rate() rate.Limit { return rate.Inf }

// Burst implements the rate hint.
func (LogReplier) Burst() int { return 1 }
