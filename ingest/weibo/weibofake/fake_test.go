package weibofake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/ingest/weibo"
	"github.com/mashangban/mashangban/ingest/weibo/weibofake"
)

func get(t *testing.T, u string, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func search(base, topic string, page int) string {
	return base + "/api/container/getIndex?" + url.Values{
		"containerid": {"100103type=61&q=#" + topic + "#"}, "page_type": {"searchall"}, "page": {strconv.Itoa(page)},
	}.Encode()
}

func TestMobileFakeFollowsReference(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	m := weibofake.NewMobile(weibofake.MobileOptions{Cookie: "SUB=abc", GroupEvery: 3, Now: func() time.Time { return now }, Limit: 5, Window: time.Minute})
	defer m.Close()
	gen := weibofake.NewGenerator(1, "马上办")
	for i := range 15 {
		m.Add(gen.Next(now.Add(-time.Duration(i) * time.Minute)))
	}
	h := http.Header{"Cookie": {"SUB=abc"}}

	// Without the cookie: 200 with the login wall.
	_, _, body := get(t, search(m.URL, "马上办", 1), http.Header{})
	var wall struct {
		OK  int    `json:"ok"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &wall); err != nil || wall.OK != -100 || !strings.HasPrefix(wall.URL, "https://passport.weibo.com/") {
		t.Errorf("login wall %s", body)
	}

	status, _, body := get(t, search(m.URL, "马上办", 1), h)
	var page struct {
		OK   int `json:"ok"`
		Data struct {
			CardlistInfo struct {
				Containerid string `json:"containerid"`
				Page        *int   `json:"page"`
				Total       int    `json:"total"`
			} `json:"cardlistInfo"`
			Cards []struct {
				CardType  int               `json:"card_type"`
				Mblog     map[string]any    `json:"mblog"`
				CardGroup []json.RawMessage `json:"card_group"`
			} `json:"cards"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil || status != 200 || page.OK != 1 {
		t.Fatalf("page 1: %d %v %s", status, err, body[:min(len(body), 200)])
	}
	if page.Data.CardlistInfo.Page == nil || *page.Data.CardlistInfo.Page != 2 || page.Data.CardlistInfo.Total != 15 ||
		page.Data.CardlistInfo.Containerid != "100103type=61&q=#马上办#" {
		t.Errorf("cardlistInfo %+v", page.Data.CardlistInfo)
	}
	types := map[int]int{}
	for _, c := range page.Data.Cards {
		types[c.CardType]++
		if c.CardType == 9 {
			if _, ok := c.Mblog["id"].(string); !ok {
				t.Errorf("mblog id is not a string: %T", c.Mblog["id"])
			}
			if ca, _ := c.Mblog["created_at"].(string); !strings.HasSuffix(ca, " +0800 2026") {
				t.Errorf("created_at %q", ca)
			}
			if text, _ := c.Mblog["text"].(string); !strings.Contains(text, `<span class="surl-text">#马上办#</span></a>`) {
				t.Errorf("text has no topic anchor: %s", text)
			}
		}
	}
	if types[9] == 0 || types[11] == 0 || types[10] == 0 {
		t.Errorf("card types %v, want 9, 11 groups and a non-post card", types)
	}
	_, _, body = get(t, search(m.URL, "马上办", 2), h)
	if !strings.Contains(string(body), `"page":null`) {
		t.Errorf("last page without page null: %s", body[:200])
	}
	// Five requests per minute (the login-wall one counted): the sixth is a 418.
	get(t, search(m.URL, "马上办", 1), h)
	get(t, search(m.URL, "马上办", 1), h)
	if status, _, _ := get(t, search(m.URL, "马上办", 1), h); status != http.StatusTeapot {
		t.Errorf("over the limit: %d", status)
	}
	now = now.Add(time.Minute)
	_, _, body = get(t, search(m.URL, "没有的话题", 1), h)
	if !strings.Contains(string(body), `"ok":0`) {
		t.Errorf("empty search %s", body)
	}
}

func TestOpenFakeFollowsReference(t *testing.T) {
	o := weibofake.NewOpen(weibofake.OpenOptions{Token: "tok"})
	defer o.Close()
	gen := weibofake.NewGenerator(2, "马上办")
	var last, oldest weibofake.Post // highest and lowest ID
	for i := range 5 {
		p := gen.Next(time.Now().Add(-time.Duration(i) * time.Minute))
		p.ID += 1 << 53
		p.Mentions = true
		o.Add(p)
		if i == 0 {
			oldest = p
		}
		last = p
	}
	status, _, body := get(t, o.URL+"/2/statuses/mentions.json?access_token=tok&count=2", nil)
	// IDs above 2^53 are written exactly, as number and idstr.
	var env struct {
		Statuses []struct {
			ID    json.Number `json:"id"`
			IDStr string      `json:"idstr"`
		} `json:"statuses"`
		NextCursor json.Number `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &env); err != nil || status != 200 || len(env.Statuses) != 2 {
		t.Fatalf("mentions %d %v %s", status, err, body)
	}
	for _, s := range env.Statuses {
		if s.ID.String() != s.IDStr {
			t.Errorf("id %s idstr %s", s.ID, s.IDStr)
		}
	}
	if env.NextCursor.String() != env.Statuses[1].IDStr {
		t.Errorf("next_cursor %s", env.NextCursor)
	}
	// max_id is inclusive, since_id exclusive: of the 4 posts at or below
	// the boundary, the oldest (since_id) is left out.
	boundary := env.Statuses[1].IDStr
	_, _, body = get(t, o.URL+"/2/statuses/mentions.json?access_token=tok&max_id="+boundary+"&since_id="+oldest.IDString(), nil)
	var env2 struct {
		Statuses []struct {
			IDStr string `json:"idstr"`
		} `json:"statuses"`
	}
	if err := json.Unmarshal(body, &env2); err != nil || len(env2.Statuses) != 3 || env2.Statuses[0].IDStr != boundary ||
		env2.Statuses[2].IDStr == oldest.IDString() {
		t.Errorf("max_id page %s", body)
	}

	// Error body: number error_code, request path with /2/, 4xx status.
	status, _, body = get(t, o.URL+"/2/statuses/mentions.json?access_token=wrong", nil)
	if status != 400 || string(body) != `{"error":"invalid_access_token","error_code":21332,"request":"/2/statuses/mentions.json"}` {
		t.Errorf("invalid token: %d %s", status, body)
	}
	status, _, body = get(t, o.URL+"/2/search/topics.json?access_token=tok&q=马上办", nil)
	if status != 403 || !strings.Contains(string(body), `"error_code":10014`) {
		t.Errorf("topics without permission: %d %s", status, body)
	}
	// comments/create only takes form bodies.
	resp, err := http.Post(o.URL+"/2/comments/create.json", "application/json", strings.NewReader(`{"access_token":"tok","id":"1","comment":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"error_code":10016`) || !strings.Contains(string(b), "(comment)") {
		t.Errorf("json body: %s", b)
	}
	form := url.Values{"access_token": {"tok"}, "id": {last.IDString()}, "comment": {strings.Repeat("长", 141)}}
	resp, err = http.PostForm(o.URL+"/2/comments/create.json", form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"error_code":20012`) {
		t.Errorf("141 characters: %s", b)
	}
}

// The demo feeds posts that the real sources read.
func TestDemoFeedsTheSources(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := weibofake.Demo(ctx, weibofake.DemoOptions{Every: time.Millisecond, Initial: 4, Seed: 42})
	defer d.Close()
	mob, err := weibo.NewMobile(weibo.MobileOptions{BaseURL: d.MobileURL, Cookie: d.Cookie, Topic: d.Topic, ExtendEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := mob.Poll(ctx, "")
	if err != nil || len(b.Posts) < 4 {
		t.Fatalf("mobile: %v, %d posts", err, len(b.Posts))
	}
	for _, p := range b.Posts {
		if !strings.Contains(p.Text, "#马上办#") || !strings.Contains(p.Text, "马鞍山") || p.Region != "安徽" {
			t.Errorf("demo post %+v", p)
		}
	}
	// The stream goes on: wait (bounded) for a post the first poll did not have.
	deadline := time.Now().Add(20 * time.Second)
	cur := b.Next
	for {
		b2, err := mob.Poll(ctx, cur)
		if err != nil {
			t.Fatal(err)
		}
		cur = b2.Next
		if len(b2.Posts) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new demo posts")
		}
		time.Sleep(10 * time.Millisecond)
	}
	op, err := weibo.NewOpen(weibo.OpenOptions{BaseURL: d.OpenURL, AccessToken: d.Token, Mentions: true, Topic: d.Topic})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := op.Poll(ctx, ""); err != nil || len(b.Posts) == 0 {
		t.Fatalf("open: %v %d", err, len(b.Posts))
	}
}
