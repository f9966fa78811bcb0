package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mashangban/mashangban/model"
)

// Outbox states.
const (
	OutboxQueued  = "queued"
	OutboxSending = "sending"
	OutboxSent    = "sent"
	OutboxSkipped = "skipped"
	OutboxFailed  = "failed"
)

// Outbox kinds: the acknowledgement (one per post) and progress replies to
// citizens, and notices to departments (PostID is then the notice's key,
// Channel "notify:<department>").
const (
	ReplyAck      = "ack"
	ReplyProgress = "progress"
	OutboxNotice  = "notice"
)

// OutboxItem is a reply to a citizen waiting to be sent, or sent.
type OutboxItem struct {
	ID            int64             `json:"id"`
	PostID        string            `json:"post_id"`
	Kind          string            `json:"kind"`
	Seq           int               `json:"seq"`
	Channel       string            `json:"channel"`
	NativeID      string            `json:"native_id,omitempty"`
	AuthorID      string            `json:"author_id,omitempty"`
	CaseNo        string            `json:"case_no,omitempty"`
	Text          string            `json:"text"`
	Fields        map[string]string `json:"fields,omitempty"`
	State         string            `json:"state"`
	Attempts      int               `json:"attempts"`
	NextAttemptAt time.Time         `json:"next_attempt_at"`
	LastError     string            `json:"last_error,omitempty"`
	RemoteID      string            `json:"remote_id,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	SentAt        *time.Time        `json:"sent_at,omitempty"`
}

// Enqueue queues a reply. For an acknowledgement Seq must be 0, and inserted
// is false when the post already has one; progress replies take the next
// free Seq of the post when Seq is 0.
func (s *Store) Enqueue(ctx context.Context, q Querier, it OutboxItem) (inserted bool, err error) {
	q = s.querier(q)
	if it.Kind == ReplyProgress && it.Seq == 0 {
		if err := q.QueryRow(ctx, `
			SELECT COALESCE(MAX(seq), 0) + 1
			FROM outbox
			WHERE post_id = $1 AND kind = 'progress'`, it.PostID).Scan(&it.Seq); err != nil {
			return false, fmt.Errorf("enqueue %s for %q: %w", it.Kind, it.PostID, err)
		}
	}
	fields, err := json.Marshal(it.Fields)
	if err != nil {
		return false, fmt.Errorf("enqueue %s for %q: %w", it.Kind, it.PostID, err)
	}
	if it.Fields == nil {
		fields = []byte("{}")
	}
	// A redelivered decision queues the same acknowledgement again; the
	// unique (post_id, kind, seq) keeps one.
	n, err := q.Exec(ctx, `
		INSERT INTO outbox (
			post_id, kind, seq, channel, native_id, author_id, case_no, text, fields,
			state, attempts, next_attempt_at, created_at
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', 0, $10, $10)
		ON CONFLICT (post_id, kind, seq) DO NOTHING`,
		it.PostID, it.Kind, it.Seq, it.Channel, it.NativeID, it.AuthorID, it.CaseNo, it.Text, string(fields), it.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("enqueue %s for %q: %w", it.Kind, it.PostID, err)
	}
	return n == 1, nil
}

const outboxColumns = `id, post_id, kind, seq, channel, native_id, author_id, case_no, text, fields,
		       state, attempts, next_attempt_at, last_error, remote_id, created_at, sent_at`

func scanOutbox(r scanner) (OutboxItem, error) {
	var it OutboxItem
	var fields string
	if err := r.Scan(&it.ID, &it.PostID, &it.Kind, &it.Seq, &it.Channel, &it.NativeID, &it.AuthorID,
		&it.CaseNo, &it.Text, &fields, &it.State, &it.Attempts, &it.NextAttemptAt, &it.LastError,
		&it.RemoteID, &it.CreatedAt, &it.SentAt); err != nil {
		return OutboxItem{}, err
	}
	if err := json.Unmarshal([]byte(fields), &it.Fields); err != nil {
		return OutboxItem{}, fmt.Errorf("outbox %d fields: %w", it.ID, err)
	}
	if len(it.Fields) == 0 {
		it.Fields = nil
	}
	return it, nil
}

func (s *Store) listOutbox(ctx context.Context, sql string, args ...any) ([]OutboxItem, error) {
	rows, err := s.DB.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out, err := collectRows(rows, scanOutbox)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}

// DueReplies returns replies of channel that are queued, or were being sent
// by an attempt whose lease ran out, and whose next attempt is due at now;
// oldest due first.
func (s *Store) DueReplies(ctx context.Context, channel string, now time.Time, limit int) ([]OutboxItem, error) {
	return s.listOutbox(ctx, `
		SELECT `+outboxColumns+`
		FROM outbox
		WHERE channel = $1 AND state IN ('queued', 'sending') AND next_attempt_at <= $2
		ORDER BY next_attempt_at, id
		LIMIT $3`, channel, now, limit)
}

// RepliesOf returns the replies queued for a post, in the order queued.
func (s *Store) RepliesOf(ctx context.Context, postID string) ([]OutboxItem, error) {
	return s.listOutbox(ctx, `
		SELECT `+outboxColumns+`
		FROM outbox
		WHERE post_id = $1
		ORDER BY id`, postID)
}

// GetReply returns one outbox item, or ErrNotFound.
func (s *Store) GetReply(ctx context.Context, id int64) (OutboxItem, error) {
	it, err := scanOutbox(s.DB.QueryRow(ctx, `
		SELECT `+outboxColumns+`
		FROM outbox
		WHERE id = $1`, id))
	if err != nil {
		return OutboxItem{}, fmt.Errorf("get outbox %d: %w", id, err)
	}
	return it, nil
}

// BeginSend records an attempt before the platform is called: state
// sending, one more attempt, and a lease until which no other sender takes
// the item. ok is false when the item changed since it was read (another
// sender took it); the condition on state and attempts makes the take atomic.
func (s *Store) BeginSend(ctx context.Context, it OutboxItem, leaseUntil time.Time) (ok bool, err error) {
	n, err := s.DB.Exec(ctx, `
		UPDATE outbox
		SET state = 'sending', attempts = attempts + 1, next_attempt_at = $4
		WHERE id = $1 AND state = $2 AND attempts = $3`, it.ID, it.State, it.Attempts, leaseUntil)
	if err != nil {
		return false, fmt.Errorf("begin send of outbox %d: %w", it.ID, err)
	}
	return n == 1, nil
}

// FinishSend records the outcome of an attempt: state sent, skipped or
// failed (final), with the platform's reply ID or the reason.
func (s *Store) FinishSend(ctx context.Context, q Querier, id int64, state, remoteID, reason string, at time.Time) error {
	n, err := s.querier(q).Exec(ctx, `
		UPDATE outbox
		SET state = $2, remote_id = $3, last_error = $4, sent_at = $5
		WHERE id = $1`, id, state, remoteID, reason, at)
	if err != nil {
		return fmt.Errorf("finish outbox %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("finish outbox %d: %w", id, ErrNotFound)
	}
	return nil
}

// RetrySend schedules another attempt at next. state is 'sending' when the
// failed attempt may have reached the platform (the next attempt checks
// first), 'queued' when it certainly did not.
func (s *Store) RetrySend(ctx context.Context, id int64, state string, next time.Time, reason string) error {
	n, err := s.DB.Exec(ctx, `
		UPDATE outbox
		SET state = $2, next_attempt_at = $3, last_error = $4
		WHERE id = $1`, id, state, next, reason)
	if err != nil {
		return fmt.Errorf("retry outbox %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("retry outbox %d: %w", id, ErrNotFound)
	}
	return nil
}

// OutboxCounts returns the number of replies in each state.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.DB.Query(ctx, `SELECT state, count(*) FROM outbox GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("outbox counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("outbox counts: %w", err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox counts: %w", err)
	}
	return out, nil
}

// ReplyTargets returns the posts of a case (ID, channel, native ID, author,
// text): everyone who reported the problem hears of its progress.
func (s *Store) ReplyTargets(ctx context.Context, q Querier, caseID int64) ([]model.Post, error) {
	rows, err := s.querier(q).Query(ctx, `
		SELECT p.post_id, p.channel, p.native_id, p.author_id, p.text
		FROM case_posts cp JOIN posts p ON p.post_id = cp.post_id
		WHERE cp.case_id = $1
		ORDER BY cp.merged_at, p.post_id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("reply targets of case %d: %w", caseID, err)
	}
	defer rows.Close()
	var out []model.Post
	for rows.Next() {
		var p model.Post
		var ch string
		if err := rows.Scan(&p.ID, &ch, &p.NativeID, &p.Author.ID, &p.Text); err != nil {
			return nil, fmt.Errorf("reply targets of case %d: %w", caseID, err)
		}
		p.Channel = model.Channel(ch)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reply targets of case %d: %w", caseID, err)
	}
	return out, nil
}
