// Package notify delivers notices (new assignments, reminders and cards) to
// a department's own webhook: a 企业微信 (WeCom) group robot, or any HTTP
// endpoint that takes the generic JSON form.
//
// It formats and posts one message and classifies the answer; queueing,
// retries, at-most-once delivery and the audit trail are dispatch's (the
// notices go through the outbox like replies to citizens).
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/ingest"
)

// Formats of a webhook.
const (
	FormatWeCom = "wecom" // WeCom group robot: markdown, or text when mobiles are to be mentioned
	FormatJSON  = "json"  // the Message below as JSON
)

// WeCom's content limits, in bytes of UTF-8.
const (
	WeComMarkdownLimit = 4096
	WeComTextLimit     = 2048
)

// Target is where a department's notices go. URL carries the robot's key:
// it is a credential and never printed (String redacts it).
type Target struct {
	URL    string
	Format string
	// MentionedMobiles are @-mentioned in the group (WeCom only; the robot
	// mentions by mobile only in text messages, so notices go as text then).
	MentionedMobiles []string
}

// String names the target without its URL.
func (t Target) String() string { return t.Format + " webhook <secret>" }

// Department names a department.
type Department struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Message is one notice, also the generic JSON body.
type Message struct {
	// Kind: assigned (a new assignment, also by transfer), remind_claim,
	// remind_reply, remind_close, yellow, orange, red.
	Kind       string     `json:"kind"`
	CaseNo     string     `json:"case_no"`
	Department Department `json:"department"`
	Role       string     `json:"role,omitempty"`     // lead or assist
	Deadline   *time.Time `json:"deadline,omitempty"` // the deadline the notice is about
	Card       string     `json:"card,omitempty"`     // yellow, orange or red for a card
	Title      string     `json:"title"`              // short Chinese heading
	Text       string     `json:"text"`               // the Chinese text
	URL        string     `json:"url,omitempty"`      // the case's page, when configured
	Key        string     `json:"key"`                // the notice's idempotency key
}

// Client posts notices.
type Client struct {
	HTTP *http.Client
}

// Send delivers m to t. Errors are classed for the outbox: ErrRateLimited
// (wrapped in a BackoffError when the wait is known) and ErrTransient when
// the message was certainly not accepted, ErrAuth, ErrMalformed or
// ErrPermission when it never will be, and an unclassed error when it may
// have arrived (the answer was lost).
func (c Client) Send(ctx context.Context, t Target, m Message) error {
	var body []byte
	var err error
	switch t.Format {
	case FormatWeCom:
		body, err = WeComBody(t, m)
	case FormatJSON, "":
		body, err = json.Marshal(m)
	default:
		return fmt.Errorf("notify: unknown format %q: %w", t.Format, ingest.ErrMalformed)
	}
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		// The URL itself is bad; the error would quote it, and it holds the key.
		return fmt.Errorf("notify: bad webhook URL: %w", ingest.ErrAuth)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.Key)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return classifyNetError(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := time.Minute
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return &ingest.BackoffError{Wait: wait, Cause: fmt.Errorf("notify: HTTP 429: %w", ingest.ErrRateLimited)}
	case resp.StatusCode >= 500:
		return fmt.Errorf("notify: HTTP %d: %w", resp.StatusCode, ingest.ErrTransient)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("notify: HTTP %d: %w", resp.StatusCode, ingest.ErrAuth)
	case resp.StatusCode >= 300:
		return fmt.Errorf("notify: HTTP %d: %w", resp.StatusCode, ingest.ErrMalformed)
	}
	if t.Format == FormatWeCom {
		return weComAnswer(raw)
	}
	return nil
}

// classifyNetError tells a request that never left (dial failures) from one
// whose fate is unknown.
func classifyNetError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("notify: %s: %w", op.Op, ingest.ErrTransient)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Errorf("notify: DNS lookup failed: %w", ingest.ErrTransient)
	}
	// Drop the *url.Error wrapper: it quotes the URL, which holds the key.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("notify: answer lost, the notice may have arrived: %s", err.Error())
}

// WeCom error codes the client tells apart.
const (
	WeComOK          = 0
	WeComBusy        = -1    // system busy: try again
	WeComRateLimited = 45009 // over 20 messages a minute for the robot
	WeComBadKey      = 93000 // invalid webhook URL key
	WeComTooLong     = 45002 // content over the limit
	WeComBadType     = 40008 // invalid message type
	WeComEmpty       = 44004 // empty content
)

type weComReply struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func weComAnswer(raw []byte) error {
	var r weComReply
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("notify: wecom answer not JSON: %w", ingest.ErrMalformed)
	}
	switch r.ErrCode {
	case WeComOK:
		return nil
	case WeComBusy:
		return fmt.Errorf("notify: wecom errcode %d %s: %w", r.ErrCode, r.ErrMsg, ingest.ErrTransient)
	case WeComRateLimited:
		// The robot's limit is per minute.
		return &ingest.BackoffError{Wait: time.Minute, Cause: fmt.Errorf("notify: wecom errcode %d %s: %w", r.ErrCode, r.ErrMsg, ingest.ErrRateLimited)}
	case WeComBadKey:
		return fmt.Errorf("notify: wecom errcode %d (invalid webhook key): %w", r.ErrCode, ingest.ErrAuth)
	}
	return fmt.Errorf("notify: wecom errcode %d %s: %w", r.ErrCode, r.ErrMsg, ingest.ErrMalformed)
}

// WeComBody is the robot message for m: markdown, or text when mobiles are
// to be mentioned, cut to the robot's limit.
func WeComBody(t Target, m Message) ([]byte, error) {
	facts := []string{"办件编号：" + m.CaseNo, "部门：" + m.Department.Name}
	if m.Deadline != nil {
		facts = append(facts, "时限："+m.Deadline.In(shanghai).Format("2006-01-02 15:04"))
	}
	if len(t.MentionedMobiles) > 0 {
		content := m.Title + "\n" + strings.Join(facts, "\n") + link(m.URL, false) + "\n\n" + m.Text
		return json.Marshal(map[string]any{"msgtype": "text",
			"text": map[string]any{"content": cut(content, WeComTextLimit), "mentioned_mobile_list": t.MentionedMobiles}})
	}
	head := "**" + m.Title + "**"
	if m.Card != "" {
		// WeCom's markdown colours are info (green), comment (grey) and
		// warning (orange red).
		head = `<font color="warning">**` + m.Title + `**</font>`
	}
	lines := []string{head}
	for _, f := range facts {
		lines = append(lines, "> "+f)
	}
	content := strings.Join(lines, "\n") + link(m.URL, true) + "\n\n" + m.Text
	return json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": cut(content, WeComMarkdownLimit)}})
}

var shanghai = time.FixedZone("CST", 8*3600)

func link(url string, markdown bool) string {
	if url == "" {
		return ""
	}
	if markdown {
		return "\n[查看办件](" + url + ")"
	}
	return "\n" + url
}

// cut shortens s to at most limit bytes on a character boundary, marking
// the cut with an ellipsis.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ell = "…"
	b := s[:limit-len(ell)]
	for !utf8.ValidString(b) {
		b = b[:len(b)-1]
	}
	return b + ell
}
