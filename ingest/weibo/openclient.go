package weibo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/mashangban/mashangban/ingest"
)

// openClient is the HTTP side shared by the Open API source and the replier.
type openClient struct {
	client  *resty.Client
	token   string
	now     func() time.Time
	metrics *requestMetrics
}

func newOpenClient(hc *http.Client, base, token string, timeout time.Duration, now func() time.Time, m *requestMetrics) *openClient {
	if base == "" {
		base = "https://api.weibo.com"
	}
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	return &openClient{client: newClient(hc, base, timeout), token: token, now: now, metrics: m}
}

// get calls a GET endpoint with access_token as a query parameter.
func (c *openClient) get(ctx context.Context, endpoint, path string, params map[string]string) ([]byte, error) {
	req := c.client.R().SetContext(ctx).SetQueryParams(params).SetQueryParam("access_token", c.token)
	return c.do(ctx, endpoint, func() (*resty.Response, error) { return req.Get(path) })
}

// postForm calls a POST endpoint with an application/x-www-form-urlencoded
// body that carries access_token (the only encoding Weibo accepts).
func (c *openClient) postForm(ctx context.Context, endpoint, path string, form map[string]string) ([]byte, error) {
	f := make(map[string]string, len(form)+1)
	for k, v := range form {
		f[k] = v
	}
	f["access_token"] = c.token
	req := c.client.R().SetContext(ctx).SetFormData(f)
	return c.do(ctx, endpoint, func() (*resty.Response, error) { return req.Post(path) })
}

// do classifies the answer. Weibo decides by the body's error_code, not by
// the HTTP status (errors come with 400/403 and sometimes 200); a status
// without an error body falls back to the status.
func (c *openClient) do(ctx context.Context, endpoint string, send func() (*resty.Response, error)) ([]byte, error) {
	resp, err := send()
	if err != nil {
		if tooLarge(err) {
			c.metrics.observe(endpoint, "malformed")
			return nil, tooLargeError("weibo " + endpoint)
		}
		c.metrics.observe(endpoint, "transient")
		return nil, transportError(ctx, "weibo "+endpoint, err)
	}
	body := resp.Body()
	code := resp.StatusCode()
	if e, ok := ParseOpenError(code, body); ok {
		err := c.classify(fmt.Errorf("weibo %s: %w", endpoint, e), e.Code, resp)
		c.metrics.observe(endpoint, Class(err))
		return nil, err
	}
	switch {
	case code == http.StatusTooManyRequests:
		err = c.classify(fmt.Errorf("weibo %s: http %d: %w", endpoint, code, ingest.ErrRateLimited), 0, resp)
	case code >= 500:
		err = fmt.Errorf("weibo %s: http %d: %w", endpoint, code, ingest.ErrTransient)
	case code == http.StatusUnauthorized:
		err = fmt.Errorf("weibo %s: http %d: %w", endpoint, code, ingest.ErrAuth)
	case code < 200 || code > 299:
		err = fmt.Errorf("weibo %s: unexpected http %d: %q", endpoint, code, snippet(body))
	case !isJSONObject(body):
		err = &ingest.MalformedError{Reason: fmt.Sprintf("weibo %s body is not a JSON object: %q", endpoint, snippet(body)), Raw: body}
	}
	c.metrics.observe(endpoint, Class(err))
	if err != nil {
		return nil, err
	}
	return body, nil
}

// classify wraps rate-limit errors in a BackoffError. Weibo's limits are per
// hour (per IP, per user, per endpoint), so the wait runs to the top of the
// next hour unless the response says otherwise; 20016 (posting too fast) waits
// ten minutes.
func (c *openClient) classify(err error, code int, resp *resty.Response) error {
	if !errors.Is(err, ingest.ErrRateLimited) {
		return err
	}
	now := c.now()
	if d, ok := retryAfter(resp, now); ok {
		return &ingest.BackoffError{Wait: d, Cause: err}
	}
	if code == 20016 {
		return &ingest.BackoffError{Wait: 10 * time.Minute, Cause: err}
	}
	return &ingest.BackoffError{Wait: untilNextHour(now), Cause: err}
}

// untilNextHour is the wait to the next full hour in Asia/Shanghai (Weibo's
// hourly windows), at least one minute.
func untilNextHour(now time.Time) time.Duration {
	t := now.In(Shanghai)
	next := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, Shanghai).Add(time.Hour)
	return max(next.Sub(t), time.Minute)
}
