package wechatfake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, u, contentType, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(u, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: errors come back as HTTP 200", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func stableToken(t *testing.T, s *Server) string {
	t.Helper()
	m := post(t, s.URL+"/cgi-bin/stable_token", "application/json",
		`{"grant_type":"client_credential","appid":"wx0123456789abcdef","secret":"APPSECRET","force_refresh":false}`)
	tok, _ := m["access_token"].(string)
	if exp, _ := m["expires_in"].(float64); tok == "" || exp < 300 || exp > 7200 {
		t.Fatalf("stable_token: %v", m)
	}
	return tok
}

func errcode(m map[string]any) int {
	c, _ := m["errcode"].(float64)
	return int(c)
}

func TestTokens(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	tok := stableToken(t, s)
	if again := stableToken(t, s); again != tok {
		t.Error("stable_token must return the same token while it is valid")
	}
	m := post(t, s.URL+"/cgi-bin/stable_token", "application/x-www-form-urlencoded", "grant_type=client_credential&appid=wx0123456789abcdef&secret=APPSECRET")
	if errcode(m) != 41002 || !strings.Contains(m["errmsg"].(string), " rid: ") {
		t.Errorf("form body: %v", m)
	}
	m = post(t, s.URL+"/cgi-bin/stable_token", "application/json", `{"grant_type":"client_credential","appid":"wx0123456789abcdef","secret":"nope"}`)
	if errcode(m) != 40125 {
		t.Errorf("bad secret: %v", m)
	}
	resp, err := http.Get(s.URL + "/cgi-bin/token?grant_type=client_credential&appid=wx0123456789abcdef&secret=APPSECRET")
	if err != nil {
		t.Fatal(err)
	}
	var tm map[string]any
	json.NewDecoder(resp.Body).Decode(&tm)
	resp.Body.Close()
	if tm["access_token"] == "" || tm["access_token"] == tok {
		t.Errorf("cgi-bin/token: %v", tm)
	}
	q := s.URL + "/tcb/databasequery?access_token="
	body := `{"env":"prod-1a2b3c","query":"db.collection(\"submissions\").get()"}`
	if c := errcode(post(t, q, "application/json", body)); c != 41001 {
		t.Errorf("no token: %d", c)
	}
	if c := errcode(post(t, q+"bogus", "application/json", body)); c != 40001 {
		t.Errorf("unknown token: %d", c)
	}
	s.ExpireTokens()
	if c := errcode(post(t, q+url.QueryEscape(tok), "application/json", body)); c != 42001 {
		t.Errorf("expired token: %d", c)
	}
}

func TestDatabaseQuery(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	at := time.UnixMilli(1715044364000).UTC()
	s.Add(
		map[string]any{"_id": "b", "_openid": "o1", "content": "二", "createdAt": at, "n": 2},
		map[string]any{"_id": "a", "_openid": "o2", "content": "一", "createdAt": at, "n": 1},
		map[string]any{"_id": "c", "content": "三", "createdAt": at.Add(time.Second), "n": 3},
	)
	u := s.URL + "/tcb/databasequery?access_token=" + url.QueryEscape(stableToken(t, s))
	query := func(q string) map[string]any {
		b, _ := json.Marshal(map[string]string{"env": "prod-1a2b3c", "query": q})
		return post(t, u, "application/json", string(b))
	}
	m := query(`db.collection("submissions").where(_.or([{"createdAt":_.gt(new Date(1715044364000))},{"createdAt":_.eq(new Date(1715044364000)),"_id":_.gt("a")}])).orderBy("createdAt","asc").orderBy("_id","asc").limit(1).get()`)
	pager := m["pager"].(map[string]any)
	if pager["Offset"] != 0.0 || pager["Limit"] != 1.0 || pager["Total"] != 2.0 {
		t.Errorf("pager %v", pager)
	}
	data := m["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("data %v", data)
	}
	s0, ok := data[0].(string)
	if !ok || !strings.Contains(s0, `"_id":"b"`) || !strings.Contains(s0, `"createdAt":{"$date":1715044364000}`) {
		t.Errorf("data element %v: want a JSON string with a $date", data[0])
	}
	m = query(`db.collection("submissions").where({n:_.in([1,3])}).orderBy("n","desc").get()`)
	if d := m["data"].([]any); len(d) != 2 || !strings.Contains(d[0].(string), `"_id":"c"`) {
		t.Errorf("in/desc: %v", d)
	}
	m = query(`db.collection("submissions").skip(1).get()`)
	if d := m["data"].([]any); len(d) != 2 || m["pager"].(map[string]any)["Limit"] != 10.0 {
		t.Errorf("skip/default limit: %v", m)
	}
	for q, code := range map[string]int{
		`db.collection("nope").get()`:                   -502005,
		`db.collection("submissions").where({a:1})`:     -502002,
		`db.collection("submissions").get();rm()`:       -502002,
		`db.collection("submissions").limit("x").get()`: -502002,
		`db.collection(submissions).get()`:              -502002,
	} {
		if c := errcode(query(q)); c != code {
			t.Errorf("%s: errcode %d, want %d", q, c, code)
		}
	}
	b, _ := json.Marshal(map[string]string{"env": "other", "query": `db.collection("submissions").get()`})
	if c := errcode(post(t, u, "application/json", string(b))); c != -501009 {
		t.Errorf("unknown env: %d", c)
	}
}

func TestDatabaseUpdate(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.Add(map[string]any{"_id": "a", "content": "一", "createdAt": time.Now()})
	u := s.URL + "/tcb/databaseupdate?access_token=" + url.QueryEscape(stableToken(t, s))
	update := func(q string) map[string]any {
		b, _ := json.Marshal(map[string]string{"env": "prod-1a2b3c", "query": q})
		return post(t, u, "application/json", string(b))
	}
	m := update(`db.collection("submissions").doc("a").update({data:{acked:true,"r.ack":{"text":"好"}}})`)
	if m["matched"] != 1.0 || m["modified"] != 1.0 || m["id"] != "" {
		t.Errorf("first update %v", m)
	}
	m = update(`db.collection("submissions").doc("a").update({data:{acked:true,"r.ack":{"text":"好"}}})`)
	if m["matched"] != 1.0 || m["modified"] != 0.0 {
		t.Errorf("repeated update %v", m)
	}
	rec, _ := s.Record("a")
	if rec["acked"] != true || rec["r"].(map[string]any)["ack"].(map[string]any)["text"] != "好" {
		t.Errorf("record %v", rec)
	}
	if m := update(`db.collection("submissions").doc("zz").update({data:{acked:true}})`); m["matched"] != 0.0 {
		t.Errorf("missing doc %v", m)
	}
}

func TestSubscribeSend(t *testing.T) {
	s := New(Options{Templates: []string{"T1"}, Pages: []string{"pages/detail/index"}, RequireGrant: true})
	defer s.Close()
	s.Grant("oA", "T1", 1)
	u := s.URL + "/cgi-bin/message/subscribe/send?access_token=" + url.QueryEscape(stableToken(t, s))
	send := func(body string) int { return errcode(post(t, u, "application/json", body)) }
	ok := `{"touser":"oA","template_id":"T1","page":"pages/detail/index?id=1","data":{"thing1":{"value":"路灯不亮"},"character_string2":{"value":"MSB-1"},"phrase3":{"value":"已受理"},"time4":{"value":"2024年05月07日 09:21"}}}`
	for body, code := range map[string]int{
		`{"template_id":"T1","data":{"thing1":{"value":"a"}}}`:                                   40003,
		`{"touser":"oA","template_id":"T9","data":{"thing1":{"value":"a"}}}`:                     40037,
		`{"touser":"oA","template_id":"T1","page":"pages/x","data":{"thing1":{"value":"a"}}}`:    41030,
		`{"touser":"oA","template_id":"T1","data":{"thing1.DATA":{"value":"a"}}}`:                47003,
		`{"touser":"oA","template_id":"T1","data":{"thing1":{"value":"一二三四五六七八九十一二三四五六七八九十一"}}}`: 47003,
		`{"touser":"oA","template_id":"T1","data":{"phrase3":{"value":"处理中ok"}}}`:                47003,
		`{"touser":"oA","template_id":"T1","data":{"character_string2":{"value":"编号1"}}}`:        47003,
		`{"touser":"oB","template_id":"T1","data":{"thing1":{"value":"a"}}}`:                     43101,
	} {
		if c := send(body); c != code {
			t.Errorf("%s: errcode %d, want %d", body, c, code)
		}
	}
	if c := send(ok); c != 0 {
		t.Fatalf("valid send: %d", c)
	}
	if c := send(ok); c != 43101 {
		t.Errorf("second send on a one-shot authorisation: %d", c)
	}
	if got := s.Sends(); len(got) != 1 || got[0].Data["thing1"]["value"] != "路灯不亮" {
		t.Errorf("sends %+v", got)
	}
}

func TestFaults(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	tok := stableToken(t, s)
	s.Fail("/tcb/databasequery", Fault{Status: 502}, Fault{Truncate: true}, Fault{NonJSON: true}, Fault{Errcode: 45009})
	u := s.URL + "/tcb/databasequery?access_token=" + url.QueryEscape(tok)
	body := `{"env":"prod-1a2b3c","query":"db.collection(\"submissions\").get()"}`
	get := func() (int, string) {
		resp, err := http.Post(u, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, _ := get(); st != 502 {
		t.Errorf("status %d", st)
	}
	if _, b := get(); json.Valid([]byte(b)) || !strings.HasPrefix(b, `{"`) {
		t.Errorf("truncated body %q", b)
	}
	if _, b := get(); json.Valid([]byte(b)) {
		t.Errorf("non-JSON body %q", b)
	}
	if _, b := get(); !strings.Contains(b, `"errcode":45009`) || !strings.Contains(b, "reach max api daily quota limit rid: ") {
		t.Errorf("quota body %q", b)
	}
	if st, b := get(); st != 200 || !strings.Contains(b, `"errcode":0`) {
		t.Errorf("after the faults: %d %s", st, b)
	}
}

func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := Demo(ctx, DemoOptions{Every: 5 * time.Millisecond, Initial: 3, Seed: 7})
	defer d.Close()
	if d.Len() < 3 || d.URL == "" || d.TemplateID == "" {
		t.Fatalf("demo %+v", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.Len() < 6 {
		if time.Now().After(deadline) {
			t.Fatal("demo adds no submissions")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func FuzzParseStatement(f *testing.F) {
	f.Add(`db.collection("submissions").where(_.or([{"createdAt":_.gt(new Date(1715044364000))},{"createdAt":_.eq(new Date(1715044364000)),"_id":_.gt("a")}])).orderBy("createdAt","asc").orderBy("_id","asc").limit(20).get()`)
	f.Add(`db.collection("submissions").doc("b15498af").update({data:{acked:true,ackedAt:1715044500}})`)
	f.Add(`db.collection('c').where({a:_.in([1,"x",null]),b:{c:-1.5e3}}).field({"a":true}).skip(3).count()`)
	f.Add(`db.collection("c").where({s:"\u00e9\ud83d\ude00\\"}).get()`)
	f.Fuzz(func(t *testing.T, q string) {
		st, err := parseStatement(q, time.Unix(0, 0))
		if err != nil {
			return
		}
		if st.op == "" {
			t.Fatalf("statement without an operation: %q", q)
		}
		matches(map[string]any{"a": 1.0, "b": "x", "createdAt": time.Unix(1, 0)}, st.where)
	})
}

func TestQuotas(t *testing.T) {
	now := time.Date(2026, 11, 26, 2, 0, 10, 0, time.UTC)
	s := New(Options{MinuteQuota: 2, DailyQuota: 4, Now: func() time.Time { return now }})
	defer s.Close()
	u := s.URL + "/tcb/databasequery?access_token=" + url.QueryEscape(stableToken(t, s))
	body := `{"env":"prod-1a2b3c","query":"db.collection(\"submissions\").get()"}`
	codes := func(n int) []int {
		var out []int
		for range n {
			out = append(out, errcode(post(t, u, "application/json", body)))
		}
		return out
	}
	if got := codes(3); got[0] != 0 || got[1] != 0 || got[2] != 45011 {
		t.Errorf("first minute: %v", got)
	}
	now = now.Add(time.Minute)
	if got := codes(2); got[0] != 0 || got[1] != 45009 {
		t.Errorf("next minute: %v (refused calls count towards the day)", got)
	}
	now = now.Add(22 * time.Hour) // past Beijing midnight
	u = s.URL + "/tcb/databasequery?access_token=" + url.QueryEscape(stableToken(t, s))
	if got := codes(1); got[0] != 0 {
		t.Errorf("next day: %v", got)
	}
}
