package app_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/ingest/wechat/wechatfake"
	"github.com/mashangban/mashangban/store"
)

// deadKey is a dead letter's identity: stage, source and key.
type deadKey struct{ stage, source, key string }

// waitAccounted waits until every post of handled is a case or a triage item
// and every letter of dead is kept with a reason, and returns the outcomes
// and all dead letters.
func waitAccounted(t *testing.T, r *running, handled []string, dead []deadKey) (map[string][]outcome, map[deadKey]store.DeadLetter) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		got := outcomes(t, r.app.Store())
		dl, err := r.app.Store().ListDeadLetters(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		letters := map[deadKey]store.DeadLetter{}
		for _, d := range dl {
			letters[deadKey{d.Stage, d.Source, d.Key}] = d
		}
		var missing []string
		for _, id := range handled {
			if len(got[id]) == 0 {
				missing = append(missing, id)
			}
		}
		for _, k := range dead {
			if _, ok := letters[k]; !ok {
				missing = append(missing, "dead letter "+k.stage+"/"+k.source+"/"+k.key)
			}
		}
		if len(missing) == 0 {
			return got, letters
		}
		if time.Now().After(deadline) {
			var have []string
			for k, d := range letters {
				have = append(have, k.stage+"/"+k.source+"/"+k.key+": "+d.Reason)
			}
			sort.Strings(have)
			t.Fatalf("not accounted for after 120s: %q\ndead letters: %q\nlogs:\n%s", missing, have, tail(r.logs.String(), 8000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func jsonLine(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNoPoisonPill feeds posts that used to block their source or a stage
// for good, through a replay file and the fake WeChat server, on the
// embedded log and store and on Kafka with PostgreSQL: a 2 MB image list, a
// 1.2 MB author name, NUL bytes in a post ID and in geo.system, deep JSON,
// a number no float holds. Each ends as a case, a triage item or a dead
// letter with its reason, and the posts after them still flow.
func TestNoPoisonPill(t *testing.T) {
	images := make([]string, 20000)
	for i := range images {
		images[i] = "https://wx1.sinaimg.cn/large/" + strings.Repeat("a", 70) + ".jpg"
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			dataDir := t.TempDir()
			lines := []string{
				jsonLine(t, map[string]any{"id": "big-images", "text": "雨山区阳湖花园3栋楼道窗户脱落", "images": images}),
				jsonLine(t, map[string]any{"id": "big-author", "text": "花山区湖东路路灯不亮好几天了", "author": strings.Repeat("名", 400000)}),
				jsonLine(t, map[string]any{"id": "nul\x00id", "text": "当涂县姑孰镇护城河边有人往河里倒生活垃圾"}),
				jsonLine(t, map[string]any{"id": "nul-geo", "text": "含山县环峰镇褒禅山路井盖丢失", "geo": map[string]any{"lat": 31.7, "lon": 118.5, "system": "gc\x00j02"}}),
				`{"id":"deep","text":"路灯坏了","raw":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`,
				`{"id":"huge-number","text":"路灯坏了","geo":{"lat":1e400,"lon":118.5}}`,
				`{"id":"wrong-types","text":"路灯坏了","images":{"a":1},"geo":"here"}`,
				`{"id":"after","text":"博望区博望镇新博路路灯不亮"}`,
			}
			file := filepath.Join(dataDir, "poison.jsonl")
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			fake := wechatfake.New(wechatfake.Options{})
			defer fake.Close()
			at := time.Now().Add(-time.Hour)
			fake.Add(
				map[string]any{"_id": "wx-big-images", "_openid": "oUser1", "content": "花山区解放路人行道地砖松动", "createdAt": at, "images": images},
				map[string]any{"_id": "wx-after", "_openid": "oUser2", "content": "雨山区湖南西路垃圾桶满了没人清", "createdAt": at.Add(time.Minute)},
			)
			fo := fake.Options()
			cfg := s.cfg(t, dataDir)
			cfg.Sources = []config.Source{
				{Name: "poison", Type: config.SourceReplay, File: file, Interval: config.Duration(50 * time.Millisecond)},
				{Name: "miniprogram", Type: config.SourceWeChat, BaseURL: fake.URL, AppID: fo.AppID, AppSecret: config.Secret(fo.Secret),
					Env: fo.Env, Collection: fo.Collection, Interval: config.Duration(time.Second)},
			}
			r := start(t, cfg, app.Options{})
			got, dead := waitAccounted(t, r,
				[]string{"replay:big-images", "replay:big-author", "replay:nulid", "replay:nul-geo", "replay:after", "wechat:wx-big-images", "wechat:wx-after"},
				[]deadKey{
					{"ingest", "poison", "replay:big-images"},
					{"ingest", "poison", "replay:big-author"},
					{"ingest", "poison", "line:5"},
					{"ingest", "poison", "line:6"},
					{"ingest", "poison", "line:7"},
					{"ingest", "miniprogram", "wechat:wx-big-images"},
				})
			for id, o := range got {
				if len(o) != 1 {
					t.Errorf("%s handled %d times", id, len(o))
				}
			}
			for k, d := range dead {
				if d.Reason == "" || len(d.Raw) == 0 {
					t.Errorf("dead letter %v without reason or body: %+v", k, d)
				}
			}
			if r := dead[deadKey{"ingest", "poison", "replay:big-images"}].Reason; !strings.Contains(r, "images") {
				t.Errorf("reason of the cut image list does not name the field: %q", r)
			}
			if r := dead[deadKey{"ingest", "poison", "replay:big-author"}].Reason; !strings.Contains(r, "author.name") {
				t.Errorf("reason of the cut author name does not name the field: %q", r)
			}
			ctx := context.Background()
			p, err := r.app.Store().GetPost(ctx, "replay:big-author")
			if err != nil {
				t.Fatal(err)
			}
			if n := len([]rune(p.Author.Name)); n > 101 || !strings.HasSuffix(p.Author.Name, "…") {
				t.Errorf("stored author name has %d characters, want it cut with a marker", n)
			}
			if p, err = r.app.Store().GetPost(ctx, "replay:big-images"); err != nil || len(p.Images) == 0 || len(p.Images) > 20 {
				t.Errorf("stored images of the cut post: %d, %v", len(p.Images), err)
			}
			if p, err = r.app.Store().GetPost(ctx, "replay:nul-geo"); err != nil || p.Geo == nil || p.Geo.System != "gcj02" {
				t.Errorf("post with NUL in geo.system stored as %+v, %v", p.Geo, err)
			}
		})
	}
}

// TestNoPersonalDataInLogs runs posts carrying phone and ID numbers in
// their texts, author names, IDs and broken lines through the whole
// pipeline with a debug-level logger, and checks that no log line and no
// metric holds one of those numbers.
func TestNoPersonalDataInLogs(t *testing.T) {
	secrets := []string{"13912345678", "15800001111", "34050419900101123X", "05552345678", "13600003333", "13700002222"}
	lines := []string{
		jsonLine(t, map[string]any{"id": "p1", "text": "花山区湖东路路灯不亮，联系电话13912345678", "author": "张三15800001111"}),
		jsonLine(t, map[string]any{"id": "p2", "text": "雨山区阳湖花园楼道窗户脱落，身份证34050419900101123X，座机0555-2345678", "author": map[string]any{"id": "u1", "name": "李四 13600003333"}}),
		`{"id":"replay:13700002222","native_id":"x","text":"路灯坏了"}`,
		`{"id":"p4","text":"13700002222 broken`,
		jsonLine(t, map[string]any{"id": "13912345678", "text": "当涂县姑孰镇护城河边有人倒垃圾 13912345678", "author": strings.Repeat("名", 200) + "13912345678"}),
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			dataDir := t.TempDir()
			file := filepath.Join(dataDir, "pii.jsonl")
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := s.cfg(t, dataDir)
			cfg.Sources = []config.Source{{Name: "pii", Type: config.SourceReplay, File: file, Interval: config.Duration(50 * time.Millisecond)}}
			r := start(t, cfg, app.Options{})
			waitAccounted(t, r, []string{"replay:p1", "replay:p2", "replay:13912345678"},
				[]deadKey{{"ingest", "pii", "line:3"}, {"ingest", "pii", "line:4"}, {"ingest", "pii", "replay:13912345678"}})
			metrics := httpDo(t, "GET", "http://"+r.app.Addr()+"/metrics", adminToken, 200)
			r.stop(t)
			logs := r.logs.String()
			if !strings.Contains(logs, "case opened") || !strings.Contains(logs, "item rejected") {
				t.Fatalf("the run logged too little to check:\n%s", tail(logs, 4000))
			}
			for _, secret := range secrets {
				for _, l := range strings.Split(logs, "\n") {
					if strings.Contains(strings.NewReplacer("-", "", " ", "").Replace(l), secret) {
						t.Errorf("log line holds %s: %s", secret, l)
					}
				}
				if strings.Contains(metrics, secret) {
					t.Errorf("/metrics holds %s", secret)
				}
			}
		})
	}
}
