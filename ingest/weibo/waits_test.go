package weibo

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mashangban/mashangban/ingest"
)

// Every rate-limit signal and the wait that comes with it, for answers the
// fakes do not produce on their own.
func TestRateLimitWaits(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		mobile     bool
		class      string
		wait       time.Duration
	}{
		{name: "open 20016 posting too fast", status: 400, body: `{"error":"Out of limit!","error_code":20016,"request":"/2/comments/create.json"}`, class: "rate_limited", wait: 10 * time.Minute},
		{name: "open 10023 with Retry-After", status: 403, retryAfter: "120", body: `{"error":"User requests out of rate limit!","error_code":10023,"request":"/2/statuses/mentions.json"}`, class: "rate_limited", wait: 2 * time.Minute},
		{name: "open 10022 string code", status: 403, body: `{"error":"IP requests out of rate limit!","error_code":"10022","request":"statuses/mentions.json"}`, class: "rate_limited", wait: 12*time.Minute + 30*time.Second},
		{name: "open 429 without body", status: 429, class: "rate_limited", wait: 12*time.Minute + 30*time.Second},
		{name: "open 503 html", status: 503, body: "<html>busy</html>", class: "transient"},
		{name: "open 401 without body", status: 401, class: "auth"},
		{name: "open 200 error body", status: 200, body: `{"error":"invalid_access_token","error_code":21332,"request":"/2/statuses/mentions.json"}`, class: "auth"},
		{name: "open 10014", status: 403, body: `{"error":"Insufficient app permissions!","error_code":10014,"request":"/2/statuses/mentions.json"}`, class: "permission"},
		{name: "mobile 403 after bursts", mobile: true, status: 403, class: "rate_limited", wait: 10 * time.Minute},
		{name: "mobile 429 Retry-After date", mobile: true, status: 429, retryAfter: "Wed, 26 Nov 2026 02:52:30 GMT", class: "rate_limited", wait: 5 * time.Minute},
		{name: "mobile 414", mobile: true, status: 414, class: "rate_limited", wait: 10 * time.Minute},
		{name: "mobile 503", mobile: true, status: 503, class: "transient"},
		{name: "mobile 404", mobile: true, status: 404, class: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			clk := newClock() // 10:47:30 Shanghai = 02:47:30 UTC
			var src ingest.Source
			var err error
			if tt.mobile {
				src, err = NewMobile(MobileOptions{BaseURL: srv.URL, Topic: "马上办", Now: clk.Now})
			} else {
				src, err = NewOpen(OpenOptions{BaseURL: srv.URL, AccessToken: "t", Mentions: true, Now: clk.Now})
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Poll(context.Background(), "")
			if got := ingest.Class(err); got != tt.class {
				t.Fatalf("class %q want %q: %v", got, tt.class, err)
			}
			var be *ingest.BackoffError
			if errors.As(err, &be) != (tt.wait != 0) || (be != nil && be.Wait != tt.wait) {
				t.Errorf("err %v, want wait %v", err, tt.wait)
			}
		})
	}
}
