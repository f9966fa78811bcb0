package weibo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/mashangban/mashangban/ingest"
)

// flexID is an ID that arrives as a JSON string ("4826311288423595") or a
// JSON number (4826311288423595). It keeps the digits as text, so an int64
// never passes through float64.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(strings.TrimSpace(s))
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id %s: %w", b, err)
		}
		*f = flexID(n.String())
	}
	return nil
}

// int64 parses the ID; Weibo post and user IDs are positive decimal int64
// in canonical form ("01" or "+1" would give one post two keys).
func (f flexID) int64() (int64, error) {
	n, err := strconv.ParseInt(string(f), 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != string(f) {
		return 0, fmt.Errorf("bad id %q", string(f))
	}
	return n, nil
}

// redactedTransportError strips the query (which may carry access_token)
// from a transport error before it is wrapped and logged.
func redactedTransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			ue.URL = u.String()
		} else {
			ue.URL = "<redacted>"
		}
	}
	return err
}

// transportError classifies a failed round trip: a cancelled context is
// returned as is, anything else (timeouts, resets, DNS) is transient.
func transportError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return fmt.Errorf("%s: %w: %w", what, ingest.ErrTransient, redactedTransportError(err))
}

// tooLarge reports whether a round trip failed because the answer was
// longer than ingest.MaxResponseBytes.
func tooLarge(err error) bool { return errors.Is(err, resty.ErrResponseBodyTooLarge) }

// tooLargeError is the failed poll or send for an answer that was too long
// to read: malformed, with nothing of the body kept.
func tooLargeError(what string) error {
	return &ingest.MalformedError{Reason: fmt.Sprintf("%s: response body larger than %d bytes, not read", what, ingest.MaxResponseBytes)}
}

// retryAfter reads a Retry-After header (seconds or HTTP date).
func retryAfter(resp *resty.Response, now time.Time) (time.Duration, bool) {
	v := resp.Header().Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// snippet is the start of a body for error messages.
func snippet(b []byte) string {
	const n = 120
	if len(b) > n {
		b = b[:n]
	}
	return strings.ToValidUTF8(string(b), "?")
}
