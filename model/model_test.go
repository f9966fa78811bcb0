package model

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	at          = time.Date(2026, 11, 20, 22, 47, 0, 0, time.FixedZone("CST", 8*3600))
	examplePost = Post{
		ID: PostID(ChannelWeibo, "5030112233445566"), Source: "weibo-mobile", Channel: ChannelWeibo, NativeID: "5030112233445566",
		Author: Author{ID: "1234567890", Name: "东方城业主"},
		Text:   "#马上办# 东方城二区16栋对面楼顶广告牌强光太亮，晚上11点还亮着",
		Images: []string{"https://wx1.sinaimg.cn/large/abc.jpg"},
		Geo:    &Geo{Lat: 31.7036, Lon: 118.5312, System: "gcj02"},
		Region: "发布于 安徽", CreatedAt: at, FetchedAt: at.Add(90 * time.Second),
		URL: "https://m.weibo.cn/status/5030112233445566",
		Raw: json.RawMessage(`{"id":"5030112233445566"}`),
	}
	exampleDecision = Decision{
		Post:      examplePost,
		Districts: []District{{Code: "340503", Name: "花山区"}},
		Lead:      &Department{ID: "cgj", Name: "市城市管理局"},
		Assist:    []Department{{ID: "huashan.gov", Name: "花山区人民政府"}},
		Category:  "light-pollution", Priority: PriorityNormal, Confidence: 1,
		SLA:         &SLA{Claim: Duration(12 * time.Hour), Reply: Duration(48 * time.Hour), Close: Duration(5 * 24 * time.Hour)},
		AckTemplate: "您反映的问题已转交{{.Lead}}办理，编号{{.CaseNo}}。",
		Tokens:      []string{"东方城", "二区", "广告牌", "强光", "太亮"},
		Explanation: Explanation{
			Words:      []string{"广告牌", "强光"},
			Places:     []PlaceMatch{{Text: "东方城", Kind: "community", Code: "340503002004", District: "340503"}},
			DistrictBy: "place",
			Routes:     []RouteMatch{{Name: "强光广告牌扰民", Words: []string{"广告牌", "强光"}}},
		},
		RuleSetVersion: "dc46b57e00eee241", DecidedAt: at.Add(2 * time.Minute),
	}
)

// TestWireEncodings pins the JSON encodings of the log messages: a change
// that renames or drops a field fails here (regenerate with -update only for
// additive changes).
func TestWireEncodings(t *testing.T) {
	for _, tc := range []struct {
		file string
		v    any
		into any
	}{
		{"post.json", examplePost, &Post{}},
		{"decision.json", exampleDecision, &Decision{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				os.WriteFile(path, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Errorf("encoding changed:\n%s\nwant:\n%s", got, want)
			}
			// And it decodes back to the same value.
			if err := json.Unmarshal(want, tc.into); err != nil {
				t.Fatal(err)
			}
			back := reflect.ValueOf(tc.into).Elem().Interface()
			b2, _ := json.Marshal(back)
			b1, _ := json.Marshal(tc.v)
			if !bytes.Equal(b1, b2) {
				t.Errorf("round trip differs:\n%s\n%s", b1, b2)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	var p Post
	if err := json.Unmarshal([]byte(`{"id":"replay:1","text":"x","future_field":{"a":1}}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != "replay:1" || p.Text != "x" {
		t.Errorf("post = %+v", p)
	}
}

func TestDistrictKey(t *testing.T) {
	if k := (Decision{}).DistrictKey(); k != "unknown" {
		t.Errorf("no district: %q", k)
	}
	if k := exampleDecision.DistrictKey(); k != "340503" {
		t.Errorf("key = %q", k)
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("36h")); err != nil || time.Duration(d) != 36*time.Hour {
		t.Errorf("36h -> %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("a day")); err == nil {
		t.Error("a day: no error")
	}
}
