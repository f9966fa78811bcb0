package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// noticeBatch is how many due assignments one query of Tick looks at.
const noticeBatch = 200

// RunClock calls Tick every interval until ctx is done.
func (d *Dispatcher) RunClock(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := d.Tick(ctx, d.now()); err != nil && ctx.Err() == nil {
			d.log.ErrorContext(ctx, "deadline clock tick failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick issues every reminder and card due at now that has not been issued:
// each notice with its audit event in one transaction, keyed so that a
// repeated or concurrent Tick issues nothing twice.
func (d *Dispatcher) Tick(ctx context.Context, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	lead := max(d.opts.ReminderLead, 0)
	total := 0
	for {
		due, err := d.st.DueNotices(ctx, nil, now, lead, noticeBatch, d.skip)
		if err != nil {
			return fmt.Errorf("deadline clock: %w", err)
		}
		issued := 0
		for _, n := range due {
			ok, err := d.issue(ctx, n, now)
			if err != nil {
				return fmt.Errorf("deadline clock: %w", err)
			}
			if ok {
				issued++
			}
		}
		total += issued
		// A batch that issued nothing new means another dispatcher issued
		// them meanwhile: stop rather than spin.
		if len(due) < noticeBatch || issued == 0 {
			break
		}
	}
	if total > 0 && len(d.opts.Notify) > 0 {
		d.notifySender() // notices were queued for departments' webhooks
	}
	d.m.lastTick.Set(float64(now.Unix()))
	counts, err := d.st.OutboxCounts(ctx)
	if err != nil {
		return fmt.Errorf("deadline clock: %w", err)
	}
	for _, st := range []string{store.OutboxQueued, store.OutboxSending, store.OutboxSent, store.OutboxSkipped, store.OutboxFailed} {
		d.m.outbox.WithLabelValues(st).Set(float64(counts[st]))
	}
	return nil
}

func isReminder(kind string) bool {
	return kind == store.NoticeRemindClaim || kind == store.NoticeRemindReply || kind == store.NoticeRemindClose
}

func (d *Dispatcher) issue(ctx context.Context, n store.Notice, now time.Time) (bool, error) {
	var ok bool
	err := d.st.DB.InTx(ctx, func(tx store.Tx) error {
		a, err := d.st.GetAssignment(ctx, tx, n.AssignmentID)
		if err != nil {
			return err
		}
		ok, err = d.issueNotice(ctx, tx, a, n, now)
		return err
	})
	if err != nil {
		return false, err
	}
	if ok {
		d.m.notices.WithLabelValues(n.Kind, n.Department).Inc()
		d.log.InfoContext(ctx, "deadline notice", "kind", n.Kind, "assignment_id", n.AssignmentID,
			"department", n.Department, "deadline", n.Deadline)
	}
	return ok, nil
}

// issueNotice records a notice and its audit event in tx, once.
func (d *Dispatcher) issueNotice(ctx context.Context, tx store.Tx, a store.Assignment, n store.Notice, now time.Time) (bool, error) {
	n.IssuedAt = now
	ok, err := d.st.InsertNotice(ctx, tx, n)
	if err != nil || !ok {
		return false, err
	}
	kind := "card." + n.Kind
	if isReminder(n.Kind) {
		kind = "reminder." + n.Kind[len("remind_"):]
	}
	err = d.event(ctx, tx, store.Event{At: now, Kind: kind, CaseID: &a.CaseID, AssignmentID: &a.ID, Actor: "clock",
		DedupKey: fmt.Sprintf("notice:%d:%s:%d", n.AssignmentID, n.Kind, n.Deadline.UnixMicro())},
		map[string]any{"department": n.Department, "deadline": n.Deadline, "case_no": a.CaseNo, "state": a.State})
	if err != nil {
		return false, err
	}
	return true, d.queueNotice(ctx, tx, a, n.Kind, n.Deadline, "", now)
}

// issueEarnedCards issues, in tx, the cards a is due at now before an
// action changes its state: a claim, reply, transfer or resolve after a
// missed deadline keeps its card even if the clock has not ticked since.
// Closing is the lead's: an assisting department earns no red card.
func (d *Dispatcher) issueEarnedCards(ctx context.Context, tx store.Tx, a store.Assignment, now time.Time) error {
	var due []store.Notice
	add := func(open bool, deadline time.Time, kind string) {
		if open && deadline.Before(now) && !d.skip[kind] {
			due = append(due, store.Notice{AssignmentID: a.ID, Kind: kind, Deadline: deadline, Department: a.Department})
		}
	}
	pending := a.State == model.AssignmentPending
	claimed := a.State == model.AssignmentClaimed
	add(pending, a.ClaimBy, store.NoticeYellow)
	add(pending || claimed, a.ReplyBy, store.NoticeOrange)
	add(a.Role == model.RoleLead && (pending || claimed || a.State == model.AssignmentReplied), a.CloseBy, store.NoticeRed)
	for _, n := range due {
		ok, err := d.issueNotice(ctx, tx, a, n, now)
		if err != nil {
			return err
		}
		if ok {
			d.m.notices.WithLabelValues(n.Kind, n.Department).Inc()
		}
	}
	return nil
}
