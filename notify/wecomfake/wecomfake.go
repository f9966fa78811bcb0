// Package wecomfake is a fake 企业微信 (WeCom) group robot for tests. Like
// the real webhook (POST /cgi-bin/webhook/send?key=KEY) it checks the key,
// the msgtype and the content against the robot's limits (markdown 4096
// bytes, text 2048 bytes), answers {"errcode":...,"errmsg":...} with HTTP
// 200, and refuses more than 20 messages a minute per robot with errcode
// 45009. Its minute is the clock it is given, so tests control it.
//
// It is not for production code.
package wecomfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Message is a message the robot accepted.
type Message struct {
	Key              string
	MsgType          string
	Content          string
	MentionedMobiles []string
	IdempotencyKey   string // the request's Idempotency-Key header
}

// Robot is the fake. Its fields are set before use.
type Robot struct {
	// Keys are the valid webhook keys; any other answers errcode 93000.
	Keys map[string]bool
	// Now is the rate limit's clock (default time.Now).
	Now func() time.Time
	// PerMinute is the rate limit per key (default 20).
	PerMinute int

	mu       sync.Mutex
	accepted []Message
	refused  []int // errcodes answered, in order
	window   map[string][]time.Time
	srv      *httptest.Server
}

// Start serves the robot; URL(key) is a webhook address.
func (r *Robot) Start() *Robot {
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// Close stops the server.
func (r *Robot) Close() { r.srv.Close() }

// URL is the webhook address for key.
func (r *Robot) URL(key string) string { return r.srv.URL + "/cgi-bin/webhook/send?key=" + key }

// Accepted returns the messages the robot took, in order.
func (r *Robot) Accepted() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.accepted...)
}

// Refused returns the errcodes of the requests the robot refused, in order.
func (r *Robot) Refused() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.refused...)
}

func (r *Robot) answer(w http.ResponseWriter, code int, msg string) {
	if code != 0 {
		r.refused = append(r.refused, code)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"errcode": code, "errmsg": msg})
}

func (r *Robot) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Method != http.MethodPost || req.URL.Path != "/cgi-bin/webhook/send" {
		http.NotFound(w, req)
		return
	}
	key := req.URL.Query().Get("key")
	if !r.Keys[key] {
		r.answer(w, 93000, "invalid webhook url")
		return
	}
	var body struct {
		MsgType string `json:"msgtype"`
		Text    *struct {
			Content             string   `json:"content"`
			MentionedMobileList []string `json:"mentioned_mobile_list"`
		} `json:"text"`
		Markdown *struct {
			Content string `json:"content"`
		} `json:"markdown"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&body); err != nil {
		r.answer(w, 40016, "invalid json: "+err.Error())
		return
	}
	m := Message{Key: key, MsgType: body.MsgType, IdempotencyKey: req.Header.Get("Idempotency-Key")}
	switch body.MsgType {
	case "":
		r.answer(w, 40008, "missing msgtype")
		return
	case "text":
		if body.Text == nil {
			r.answer(w, 44004, "empty content")
			return
		}
		m.Content, m.MentionedMobiles = body.Text.Content, body.Text.MentionedMobileList
		if len(m.Content) > 2048 {
			r.answer(w, 45002, "content size out of limit")
			return
		}
	case "markdown":
		if body.Markdown == nil {
			r.answer(w, 44004, "empty content")
			return
		}
		m.Content = body.Markdown.Content
		if len(m.Content) > 4096 {
			r.answer(w, 45002, "content size out of limit")
			return
		}
	default:
		r.answer(w, 40008, "invalid message type")
		return
	}
	if m.Content == "" {
		r.answer(w, 44004, "empty content")
		return
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	limit := r.PerMinute
	if limit <= 0 {
		limit = 20
	}
	if r.window == nil {
		r.window = map[string][]time.Time{}
	}
	var recent []time.Time
	for _, t := range r.window[key] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= limit {
		r.window[key] = recent
		r.answer(w, 45009, "api freq out of limit")
		return
	}
	r.window[key] = append(recent, now)
	r.accepted = append(r.accepted, m)
	r.answer(w, 0, "ok")
}
