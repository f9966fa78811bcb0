package wechat

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
)

// The captured databasequery answers in testdata are copies of
// ../shared/reference/payloads (see PROVENANCE.md there).
func payloadRecords(t testing.TB, file string) [][]byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var resp queryResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Pager.Limit == 0 {
		t.Fatalf("%s: capitalised pager keys not decoded", file)
	}
	var out [][]byte
	for _, el := range resp.Data {
		raw, err := unquoteElement(el)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

func TestDecodeCapturedRecords(t *testing.T) {
	// mp-cloud-http: {"_id":…,"date":"2020-08-27T02:35:58.268Z","name":"http-mpcloud"}
	recs := payloadRecords(t, "wechat_tcb_databasequery_mp-cloud-http.json")
	r, err := DecodeRecord(recs[0], Fields{Created: "date", Text: "name"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "aa133ce55f471c0e0054fe571042cb75" || r.Text != "http-mpcloud" ||
		!r.Created.Equal(time.Date(2020, 8, 27, 2, 35, 58, 268e6, time.UTC)) || r.CreatedKind != kindString {
		t.Errorf("got %+v", r)
	}
	// weserver: {"_id":…,"a":"我爱你","b":"b1"} has no creation time: unusable,
	// but the ID is still known.
	recs = payloadRecords(t, "wechat_tcb_databasequery_weserver_LATES_2.json")
	r, err = DecodeRecord(recs[0], Fields{Text: "a"})
	if err == nil || !strings.Contains(err.Error(), "createdAt: missing") || r.ID != "04a0e69d-e98c-4c71-9059-cdbd021b464d" {
		t.Errorf("got %+v, %v", r, err)
	}
}

func TestDecodeRecord(t *testing.T) {
	at := time.Date(2024, 5, 7, 0, 32, 44, 0, time.UTC) // 1715041964000 ms
	tests := []struct {
		name    string
		raw     string
		fields  Fields
		check   func(t *testing.T, r Record)
		wantErr string
	}{
		{
			name: "reference example with $date ms",
			raw:  `{"_id":"b15498af-1a5a-40b4-a4e7-b3fc4a1df482","_openid":"oAbCd1234xyz","title":"路灯不亮","content":"小区门口路灯坏了三天","images":["cloud://prod-1a2b3c.7072-prod-1a2b3c-1250000000/img/1.jpg"],"createdAt":{"$date":1715041964000},"acked":false}`,
			check: func(t *testing.T, r Record) {
				p := r.Post("wechat-miniprogram", at)
				if p.ID != "wechat:b15498af-1a5a-40b4-a4e7-b3fc4a1df482" || p.Author.ID != "oAbCd1234xyz" || p.Text != "路灯不亮\n小区门口路灯坏了三天" ||
					len(p.Images) != 1 || !p.CreatedAt.Equal(at) || p.Channel != model.ChannelWeChat || r.CreatedLit != "new Date(1715041964000)" {
					t.Errorf("post %+v lit %q", p, r.CreatedLit)
				}
			},
		},
		{
			name: "$date as $numberLong, $oid id, geopoint lon-lat",
			raw:  `{"_id":{"$oid":"0f4b8add5cdd728a003bf5c8"},"content":"占道经营","createdAt":{"$date":{"$numberLong":"1715041964000"}},"location":{"type":"Point","coordinates":[118.5312,31.7036]}}`,
			check: func(t *testing.T, r Record) {
				if r.ID != "0f4b8add5cdd728a003bf5c8" || !r.Created.Equal(at) || r.Geo == nil || r.Geo.Lat != 31.7036 || r.Geo.Lon != 118.5312 || r.Geo.System != "gcj02" {
					t.Errorf("%+v geo %+v", r, r.Geo)
				}
			},
		},
		{
			name: "$date ISO string, latitude/longitude object, title prefix not repeated",
			raw:  `{"_id":"x","title":"噪音","content":"噪音太大","createdAt":{"$date":"2024-05-07T00:32:44Z"},"location":{"latitude":31.7,"longitude":{"$numberDouble":"118.5"}}}`,
			check: func(t *testing.T, r Record) {
				if r.Text != "噪音太大" || !r.Created.Equal(at) || r.Geo.Lon != 118.5 || r.CreatedKind != kindDate {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name:   "epoch seconds number and nested fields",
			raw:    `{"_id":"y","form":{"text":"井盖缺失","who":"老王"},"ts":1715041964,"loc":{}}`,
			fields: Fields{Created: "ts", Text: "form.text", Author: "form.who", Location: "loc"},
			check: func(t *testing.T, r Record) {
				if r.Text != "井盖缺失" || r.Author != "老王" || !r.Created.Equal(at) || r.CreatedKind != kindNumber || r.CreatedLit != "1715041964" || r.Geo != nil {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name: "Beijing wall-clock string",
			raw:  `{"_id":"z","content":"a","createdAt":"2024-05-07 08:32:44"}`,
			check: func(t *testing.T, r Record) {
				if !r.Created.Equal(at) || r.CreatedLit != `"2024-05-07 08:32:44"` {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name: "image objects",
			raw:  `{"_id":"i","content":"a","createdAt":{"$date":1715041964000},"images":[{"fileID":"cloud://a"},"",7,"https://b"]}`,
			check: func(t *testing.T, r Record) {
				if strings.Join(r.Images, ",") != "cloud://a,https://b" {
					t.Errorf("%v", r.Images)
				}
			},
		},
		{name: "not an object", raw: `["a"]`, wantErr: "not a json object"},
		{name: "trailing data", raw: `{"_id":"a"} {}`, wantErr: "trailing"},
		{name: "no id", raw: `{"content":"a","createdAt":{"$date":1}}`, wantErr: "no _id"},
		{name: "no text", raw: `{"_id":"a","createdAt":{"$date":1715041964000},"content":"  "}`, wantErr: "no text"},
		{name: "date out of range", raw: `{"_id":"a","content":"x","createdAt":{"$date":99999999999999999}}`, wantErr: "out of range"},
		{name: "bad date", raw: `{"_id":"a","content":"x","createdAt":{"$date":true}}`, wantErr: "bad $date"},
		{name: "bad point", raw: `{"_id":"a","content":"x","createdAt":{"$date":1715041964000},"location":{"type":"Point","coordinates":[200,31]}}`, wantErr: "out of range"},
		{name: "invalid utf-8", raw: "{\"_id\":\"a\",\"content\":\"\xff\"}", wantErr: "utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRecord([]byte(tt.raw), tt.fields)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, file := range []string{"wechat_tcb_databasequery_mp-cloud-http.json", "wechat_tcb_databasequery_weserver_LATES_2.json"} {
		for _, r := range payloadRecords(f, file) {
			f.Add(r)
		}
	}
	f.Add([]byte(`{"_id":"b1","_openid":"o","title":"路灯不亮","content":"坏了","images":["cloud://x"],"createdAt":{"$date":1715044364000},"location":{"type":"Point","coordinates":[118.5,31.7]}}`))
	f.Add([]byte(`{"_id":{"$oid":"x"},"content":"a","createdAt":{"$date":{"$numberLong":"-1"}}}`))
	f.Add([]byte(`{"_id":"x","content":"a","createdAt":"2024-05-07 08:32:44","location":{"latitude":"31","longitude":{"$numberDecimal":"1e400"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := DecodeRecord(raw, Fields{})
		if err != nil {
			return
		}
		if r.ID == "" || r.Text == "" || r.Created.IsZero() || !cursorLitRE.MatchString(r.CreatedLit) {
			t.Fatalf("accepted an incomplete record: %+v", r)
		}
		if r.Geo != nil && (r.Geo.Lat < -90 || r.Geo.Lat > 90 || r.Geo.Lon < -180 || r.Geo.Lon > 180) {
			t.Fatalf("geo out of range: %+v", r.Geo)
		}
	})
}

func BenchmarkDecodeRecord(b *testing.B) {
	raw := []byte(`{"_id":"b15498af-1a5a-40b4-a4e7-b3fc4a1df482","_openid":"oAbCd1234xyz","title":"路灯不亮","content":"东方城二区16栋对面楼顶广告牌强光太亮，一直亮到晚上11点，周边居民的生活受到影响。","images":["cloud://prod-1a2b3c.7072-prod-1a2b3c-1250000000/img/1.jpg","cloud://prod-1a2b3c.7072-prod-1a2b3c-1250000000/img/2.jpg"],"createdAt":{"$date":1715044364000},"location":{"type":"Point","coordinates":[118.5312,31.7036]},"acked":false}`)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRecord(raw, Fields{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePage(b *testing.B) {
	// A full page of 100 records as databasequery sends it: data strings.
	rec := `{"_id":"%d","_openid":"oAbCd1234xyz","content":"小区门口路灯坏了三天，晚上出门很不方便","createdAt":{"$date":1715044364000}}`
	data := make([]string, 100)
	for i := range data {
		data[i] = strings.Replace(rec, "%d", strings.Repeat("a", i+1), 1)
	}
	body, _ := json.Marshal(map[string]any{"errcode": 0, "errmsg": "ok", "pager": map[string]int{"Offset": 0, "Limit": 100, "Total": 100}, "data": data})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var resp queryResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			b.Fatal(err)
		}
		for _, el := range resp.Data {
			raw, err := unquoteElement(el)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := DecodeRecord(raw, Fields{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
