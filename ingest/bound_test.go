package ingest

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
)

func TestClean(t *testing.T) {
	base := func() model.Post {
		return model.Post{ID: "replay:1", Source: "replay", Channel: model.ChannelReplay, NativeID: "1", Text: "路灯坏了",
			Geo: &model.Geo{Lat: 31.7, Lon: 118.5, System: "gcj02"}}
	}
	longURL := "https://example.com/" + strings.Repeat("x", MaxURLBytes)
	tests := []struct {
		name    string
		edit    func(p *model.Post)
		check   func(p model.Post) bool
		cut     []string
		cleaned bool
		unfit   bool
	}{
		{"as is", func(p *model.Post) {}, func(p model.Post) bool { return reflect.DeepEqual(p, base()) }, nil, false, false},
		{"NUL in id and geo.system", func(p *model.Post) { p.ID, p.Geo.System = "replay:1\x00", "gc\x00j02" },
			func(p model.Post) bool { return p.ID == "replay:1" && p.Geo.System == "gcj02" }, nil, true, false},
		{"invalid UTF-8 everywhere", func(p *model.Post) {
			p.Text, p.Author.Name, p.Region, p.Images = "路\xff灯", "\xfe", "\xc3", []string{"a\xff"}
		}, func(p model.Post) bool {
			return p.Text == "路\uFFFD灯" && p.Author.Name == "\uFFFD" && p.Region == "\uFFFD" && p.Images[0] == "a\uFFFD"
		}, nil, true, false},
		{"huge author name", func(p *model.Post) { p.Author.Name = strings.Repeat("名", 400000) },
			func(p model.Post) bool {
				return utf8.RuneCountInString(p.Author.Name) == MaxNameRunes+1 && strings.HasSuffix(p.Author.Name, "…")
			},
			[]string{"author.name"}, false, false},
		{"too many and too long images", func(p *model.Post) {
			p.Images = append([]string{longURL}, make([]string, 30)...)
		}, func(p model.Post) bool { return len(p.Images) == MaxImages && p.Images[0] == "" }, []string{"images"}, false, false},
		{"long text, region, url, author id", func(p *model.Post) {
			p.Text, p.Region, p.URL, p.Author.ID = strings.Repeat("字", MaxPostRunes+5), strings.Repeat("区", 500), longURL, strings.Repeat("9", 1000)
		}, func(p model.Post) bool {
			return utf8.RuneCountInString(p.Text) == MaxPostRunes+1 && p.URL == "" && len(p.Author.ID) == MaxIDBytes
		}, []string{"author.id", "region", "text", "url"}, false, false},
		{"coordinates out of range", func(p *model.Post) { p.Geo.Lat = 1e300 }, func(p model.Post) bool { return p.Geo == nil }, []string{"geo"}, false, false},
		{"NaN coordinates", func(p *model.Post) { p.Geo.Lon = math.NaN() }, func(p model.Post) bool { return p.Geo == nil }, []string{"geo"}, false, false},
		{"long geo system", func(p *model.Post) { p.Geo.System = strings.Repeat("w", 5000) }, func(p model.Post) bool { return len(p.Geo.System) == MaxGeoSystemBytes }, []string{"geo.system"}, false, false},
		{"long native id and source", func(p *model.Post) { p.NativeID, p.Source = strings.Repeat("1", 300), strings.Repeat("s", 300) },
			func(p model.Post) bool { return len(p.NativeID) == MaxIDBytes && len(p.Source) == MaxIDBytes }, []string{"native_id", "source"}, false, false},
		{"id too long", func(p *model.Post) { p.ID = "replay:" + strings.Repeat("1", MaxIDBytes) }, nil, nil, false, true},
		{"id only NUL", func(p *model.Post) { p.ID = "\x00" }, nil, nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			g := *p.Geo
			p.Geo = &g
			tt.edit(&p)
			got, cleaned, err := Clean(p)
			var ue *UnfitError
			if tt.unfit != errors.As(err, &ue) {
				t.Fatalf("Clean error = %v, want unfit %v", err, tt.unfit)
			}
			if cleaned != tt.cleaned {
				t.Errorf("cleaned = %v, want %v", cleaned, tt.cleaned)
			}
			if tt.unfit {
				return
			}
			if !reflect.DeepEqual(got.Cut, tt.cut) {
				t.Errorf("Cut = %q, want %q", got.Cut, tt.cut)
			}
			if !tt.check(got) {
				t.Errorf("Clean = %+v", got)
			}
		})
	}
}

// FuzzClean: whatever a source returns, a cleaned post has no NUL and no
// invalid UTF-8 in any text field, keeps every bound, and encodes within
// the log's message limit once its raw body is gone.
func FuzzClean(f *testing.F) {
	f.Add("replay:1", "路灯坏了", "张三", "gcj02", "https://x/1.jpg", 3, 31.7)
	f.Add("weibo:\x00\xff", strings.Repeat("字", 20000), strings.Repeat("名", 500), "gc\x00j02", strings.Repeat("u", 5000), 100, math.Inf(1))
	f.Add("", "", "", "", "", 0, math.NaN())
	f.Fuzz(func(t *testing.T, id, text, name, system, image string, images int, lat float64) {
		imgs := make([]string, min(max(images, 0), 200))
		for i := range imgs {
			imgs[i] = image
		}
		p := model.Post{ID: id, Source: name, NativeID: id, Author: model.Author{ID: name, Name: name}, Text: text,
			Images: imgs, Region: name, URL: image, Geo: &model.Geo{Lat: lat, Lon: 118, System: system}}
		got, _, err := Clean(p)
		if err != nil {
			var ue *UnfitError
			if !errors.As(err, &ue) {
				t.Fatalf("Clean error %v is not an UnfitError", err)
			}
			return
		}
		for _, s := range append([]string{got.ID, got.Source, got.NativeID, got.Author.ID, got.Author.Name, got.Text, got.Region, got.URL}, got.Images...) {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("field %q not clean", s)
			}
		}
		if len(got.ID) > MaxIDBytes || len(got.NativeID) > MaxIDBytes || len(got.Author.ID) > MaxIDBytes ||
			utf8.RuneCountInString(got.Author.Name) > MaxNameRunes+1 || utf8.RuneCountInString(got.Text) > MaxPostRunes+1 ||
			len(got.Images) > MaxImages || len(got.URL) > MaxURLBytes {
			t.Fatalf("bound broken: %d/%d/%d bytes of ids, %d runes of name, %d of text, %d images, url %d bytes",
				len(got.ID), len(got.NativeID), len(got.Author.ID), utf8.RuneCountInString(got.Author.Name), utf8.RuneCountInString(got.Text), len(got.Images), len(got.URL))
		}
		if g := got.Geo; g != nil && (!finite(g.Lat) || len(g.System) > MaxGeoSystemBytes) {
			t.Fatalf("geo %+v", g)
		}
		b, err := json.Marshal(got)
		if err != nil || len(b) > MaxPostMessage {
			t.Fatalf("encoded: %d bytes, %v", len(b), err)
		}
	})
}
