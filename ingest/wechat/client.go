package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/mashangban/mashangban/ingest"
)

// DefaultBaseURL is the root of the WeChat server APIs.
const DefaultBaseURL = "https://api.weixin.qq.com"

// ClientOptions configure a Client.
type ClientOptions struct {
	// BaseURL defaults to https://api.weixin.qq.com; tests point it at wechatfake.
	BaseURL string
	AppID   string
	// AppSecret is a secret: it is sent only in the stable_token body and
	// never logged or put in errors.
	AppSecret string
	Timeout   time.Duration // per request; default 15s
	// Now is the clock for token expiry and quota waits; default time.Now.
	Now        func() time.Time
	HTTPClient *http.Client // optional transport (tests)
}

// Client calls the WeChat server APIs with a cached access token. A Source
// and a Replier of the same mini-program share one Client, so they share
// one token. It is safe for concurrent use.
type Client struct {
	opt  ClientOptions
	http *resty.Client

	mu          sync.Mutex
	token       string
	expires     time.Time
	lastForce   time.Time
	tokenFetchs int
}

// NewClient returns a client for one mini-program.
func NewClient(opt ClientOptions) (*Client, error) {
	if opt.AppID == "" || opt.AppSecret == "" {
		return nil, errors.New("wechat: app_id and app_secret are required")
	}
	if opt.BaseURL == "" {
		opt.BaseURL = DefaultBaseURL
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 15 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	var rc *resty.Client
	if opt.HTTPClient != nil {
		rc = resty.NewWithClient(opt.HTTPClient)
	} else {
		rc = resty.New()
	}
	rc.SetBaseURL(opt.BaseURL).SetTimeout(opt.Timeout).SetHeader("Content-Type", "application/json").
		SetResponseBodyLimit(ingest.MaxResponseBytes)
	return &Client{opt: opt, http: rc}, nil
}

// TokenFetches is how many times the client asked for an access token.
func (c *Client) TokenFetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokenFetchs
}

// tokenMargin is how long before its expiry a cached token is replaced. The
// stable token is rotated by the platform 5 minutes before expiry, with both
// old and new valid meanwhile (reference §3.3).
const tokenMargin = 5 * time.Minute

// accessToken returns a valid access token, fetching one through
// cgi-bin/stable_token when the cache is empty or near expiry. rejected is
// a token the platform just refused: a new one is fetched, and if the
// platform hands back the same token, once more with force_refresh.
func (c *Client) accessToken(ctx context.Context, rejected string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opt.Now()
	if c.token != "" && c.token != rejected && now.Before(c.expires) {
		return c.token, nil
	}
	tok, ttl, err := c.fetchToken(ctx, false)
	if err != nil {
		return "", err
	}
	// force_refresh is allowed 20 times a day, at least 30s apart; a refused
	// token that comes back unchanged is the only case worth spending one on.
	if tok == rejected && now.Sub(c.lastForce) >= 30*time.Second {
		c.lastForce = now
		if tok, ttl, err = c.fetchToken(ctx, true); err != nil {
			return "", err
		}
	}
	c.token = tok
	if ttl > 2*tokenMargin {
		c.expires = now.Add(ttl - tokenMargin)
	} else {
		c.expires = now.Add(ttl / 2)
	}
	return tok, nil
}

func (c *Client) fetchToken(ctx context.Context, force bool) (string, time.Duration, error) {
	c.tokenFetchs++
	body := map[string]any{
		"grant_type":    "client_credential",
		"appid":         c.opt.AppID,
		"secret":        c.opt.AppSecret,
		"force_refresh": force,
	}
	var out struct {
		envelope
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := c.post(ctx, pathStableToken, "", body, &out); err != nil {
		return "", 0, err
	}
	if err := c.check(pathStableToken, out.envelope); err != nil {
		return "", 0, err
	}
	secs, err := flexInt(out.ExpiresIn)
	if out.AccessToken == "" || err != nil || secs <= 0 {
		return "", 0, &ingest.MalformedError{Reason: "stable_token: no access_token or expires_in"}
	}
	return out.AccessToken, time.Duration(secs) * time.Second, nil
}

// API paths.
const (
	pathStableToken = "/cgi-bin/stable_token"
	pathQuery       = "/tcb/databasequery"
	pathUpdate      = "/tcb/databaseupdate"
	pathSubscribe   = "/cgi-bin/message/subscribe/send"
)

// envelope is the errcode/errmsg pair every answer carries (or omits on success).
type envelope struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (e envelope) env() envelope { return e }

type enveloped interface{ env() envelope }

// call POSTs body to path with the access token and decodes the answer into
// out. A token the platform refuses (40001, 42001, 40014) is replaced and
// the call made once more.
func (c *Client) call(ctx context.Context, path string, body any, out enveloped) error {
	var rejected string
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx, rejected)
		if err != nil {
			return err
		}
		// A retry decodes into a clean value: a success answer may omit
		// errcode, which must not keep the refused attempt's code.
		reflect.ValueOf(out).Elem().SetZero()
		if err := c.post(ctx, path, tok, body, out); err != nil {
			return err
		}
		env := out.env()
		if isTokenError(env.ErrCode) && attempt == 0 {
			rejected = tok
			continue
		}
		return c.check(path, env)
	}
}

// post sends one JSON request and decodes a 200 answer into out.
func (c *Client) post(ctx context.Context, path, token string, body, out any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return fmt.Errorf("wechat %s: encode: %w", path, err)
	}
	req := c.http.R().SetContext(ctx).SetBody(buf.Bytes())
	if token != "" {
		req.SetQueryParam("access_token", token)
	}
	resp, err := req.Post(path)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, resty.ErrResponseBodyTooLarge) {
			return &ingest.MalformedError{Reason: fmt.Sprintf("wechat %s: response body larger than %d bytes, not read", path, ingest.MaxResponseBytes)}
		}
		// url.Error carries the URL and with it the access token: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("wechat %s: %w: %v", path, ingest.ErrTransient, err)
	}
	raw := resp.Body()
	switch st := resp.StatusCode(); {
	case st == http.StatusTooManyRequests:
		return &ingest.BackoffError{Wait: time.Minute, Cause: fmt.Errorf("wechat %s: http %d: %w", path, st, ingest.ErrRateLimited)}
	case st >= 500:
		return fmt.Errorf("wechat %s: http %d: %w", path, st, ingest.ErrTransient)
	case st != http.StatusOK:
		return fmt.Errorf("wechat %s: unexpected http %d", path, st)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &ingest.MalformedError{Reason: fmt.Sprintf("wechat %s: %v", path, err), Raw: bytes.Clone(raw)}
	}
	return nil
}

// flexInt reads a number that may come as a JSON number or a numeric string.
func flexInt(raw json.RawMessage) (int64, error) {
	var n json.Number
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		n = json.Number(s)
	} else if err := json.Unmarshal(raw, &n); err != nil {
		return 0, err
	}
	return n.Int64()
}
