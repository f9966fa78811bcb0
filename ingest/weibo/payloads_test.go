package weibo

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/ingest"
)

// payloadDir holds the captured real responses of the project reference
// (docs/external-apis.md; ../shared/reference/payloads/PROVENANCE.md). Tests read them in place from
// the shared checkout: ../../../shared is <repo root>/../shared seen from
// ingest/weibo. A few are copied into testdata/fuzz as the fuzz seed corpus.
const payloadDir = "../../../shared/reference/payloads"

func readPayload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(payloadDir, name))
	if err != nil {
		t.Skipf("captured payload not available: %v", err)
	}
	return b
}

func TestParseMobileCapturedPayloads(t *testing.T) {
	// The capture dates of the relative-date payload: committed 2019-12-24.
	now := time.Date(2019, 12, 24, 12, 0, 0, 0, Shanghai)
	tests := []struct {
		file     string
		posts    int // post cards, deleted placeholders included
		deleted  int
		nextPage int
		check    func(t *testing.T, p MobilePage)
	}{
		{file: "mweibo_hot102803_weibo-trending.json", posts: 10, deleted: 1, check: func(t *testing.T, p MobilePage) {
			first := p.Posts[0].Post
			if first.Region != "浙江" || first.NativeID != "4826311288423595" || first.ID != "weibo:4826311288423595" {
				t.Errorf("first post: region %q id %q/%q", first.Region, first.NativeID, first.ID)
			}
			if got := first.CreatedAt; !got.Equal(time.Date(2022, 10, 19, 15, 49, 2, 0, Shanghai)) {
				t.Errorf("created_at = %v", got)
			}
			nine := p.Posts[1].Post
			if len(nine.Images) != 9 {
				t.Fatalf("9-picture post has %d images", len(nine.Images))
			}
			for _, u := range nine.Images {
				if !strings.Contains(u, "/large/") {
					t.Errorf("picture not large: %s", u)
				}
			}
			long := p.Posts[3]
			if !long.LongText || strings.Contains(long.Post.Text, "全文") || strings.Contains(long.Post.Text, "<") {
				t.Errorf("long post: long=%v text=%q", long.LongText, long.Post.Text)
			}
			if !strings.HasPrefix(long.Post.Text, "有哪些男性可能不知道的女性常识？\n\n1.") {
				t.Errorf("br not turned into newlines: %q", long.Post.Text[:60])
			}
			if !p.Posts[9].Deleted || p.Posts[9].ID != 4828873286749194 {
				t.Errorf("deleted placeholder not recognised: %+v", p.Posts[9])
			}
		}},
		{file: "mweibo_profile_nonebot-bison_2.json", posts: 11, nextPage: 2, check: func(t *testing.T, p MobilePage) {
			if !p.Posts[0].LongText || len(p.Posts[0].Post.Images) != 9 {
				t.Errorf("pinned long post: long=%v images=%d", p.Posts[0].LongText, len(p.Posts[0].Post.Images))
			}
			if !strings.Contains(p.Posts[1].Post.Text, "\n//@") {
				t.Errorf("retweet without original text: %q", p.Posts[1].Post.Text)
			}
			if !strings.Contains(p.Posts[3].Post.Text, "[作揖]") {
				t.Errorf("emoji alt text lost: %q", p.Posts[3].Post.Text)
			}
			if p.Posts[0].Post.Author.ID != "1907518591" {
				t.Errorf("author id = %q", p.Posts[0].Post.Author.ID)
			}
		}},
		{file: "mweibo_profile_weibo-crawler_1.json", posts: 10, check: func(t *testing.T, p MobilePage) {
			for _, mp := range p.Posts {
				if mp.Post.Region != "浙江" {
					t.Errorf("%s region %q", mp.Post.NativeID, mp.Post.Region)
				}
				if strings.ContainsAny(mp.Post.Text, "<>") {
					t.Errorf("%s markup left: %q", mp.Post.NativeID, mp.Post.Text)
				}
			}
		}},
		{file: "mweibo_profile_zcaxer-weibo-crawler_3.json", posts: 10, check: func(t *testing.T, p MobilePage) {
			want := map[string]time.Time{
				"6小时前":     now.Add(-6 * time.Hour),
				"昨天 18:12": time.Date(2019, 12, 23, 18, 12, 0, 0, Shanghai),
				"12-16":    time.Date(2019, 12, 16, 0, 0, 0, 0, Shanghai),
				"09-02":    time.Date(2019, 9, 2, 0, 0, 0, 0, Shanghai),
			}
			seen := 0
			for _, mp := range p.Posts {
				var raw struct {
					CreatedAt string `json:"created_at"`
				}
				_ = jsonUnmarshal(mp.Post.Raw, &raw)
				if w, ok := want[raw.CreatedAt]; ok {
					seen++
					if !mp.Post.CreatedAt.Equal(w) {
						t.Errorf("%q parsed as %v, want %v", raw.CreatedAt, mp.Post.CreatedAt, w)
					}
				}
			}
			if seen != len(want) {
				t.Errorf("checked %d of %d relative dates", seen, len(want))
			}
		}},
		// card_type 11 groups of user-info cards (41, 42, 3): no posts.
		{file: "mweibo_userinfo230283_widgets.json"},
		// userInfo and tabsInfo, no cards.
		{file: "mweibo_userinfo_nonebot-bison.json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			page, err := ParseMobilePage(readPayload(t, tt.file), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Rejected) != 0 {
				t.Errorf("rejected: %+v", page.Rejected[0].Reason)
			}
			deleted := 0
			for _, p := range page.Posts {
				if p.Deleted {
					deleted++
					continue
				}
				if p.Post.CreatedAt.IsZero() || p.Post.Text == "" || p.Post.Channel != "weibo" || len(p.Post.Raw) == 0 {
					t.Errorf("incomplete post %+v", p.Post)
				}
			}
			if len(page.Posts) != tt.posts || deleted != tt.deleted || page.NextPage != tt.nextPage {
				t.Errorf("posts %d deleted %d next %d; want %d %d %d", len(page.Posts), deleted, page.NextPage, tt.posts, tt.deleted, tt.nextPage)
			}
			if tt.check != nil && len(page.Posts) == tt.posts {
				tt.check(t, page)
			}
		})
	}
}

func TestParseMobileExtendCaptured(t *testing.T) {
	text, err := ParseMobileExtend(readPayload(t, "mweibo_extend_nonebot-bison.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "#明日方舟# #音律联觉#\n2021明日方舟音律联觉") || strings.ContainsAny(text, "<>") {
		t.Errorf("long text = %q", text[:min(len(text), 120)])
	}
}

func TestParseOpenCapturedPayloads(t *testing.T) {
	t.Run("home_timeline", func(t *testing.T) {
		page, err := ParseOpenStatuses(readPayload(t, "openapi_home_timeline_Elaizaikd-weibo.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Posts) != 20 || len(page.Rejected) != 0 || page.Count != 20 || page.NextCursor != 4500851547135173 {
			t.Fatalf("posts %d rejected %d count %d next %d", len(page.Posts), len(page.Rejected), page.Count, page.NextCursor)
		}
		first := page.Posts[0]
		if first.ID != 4501124306308565 || first.Post.NativeID != "4501124306308565" || first.Post.Author.ID != "3231635770" || first.Post.Region != "北京 海淀区" {
			t.Errorf("first = %+v", first.Post)
		}
		if !strings.HasPrefix(first.Post.Text, "转发微博\n//@") {
			t.Errorf("repost text = %q", first.Post.Text)
		}
		if !first.Post.CreatedAt.Equal(time.Date(2020, 5, 5, 7, 32, 4, 0, Shanghai)) {
			t.Errorf("created_at %v", first.Post.CreatedAt)
		}
		pics := 0
		for _, p := range page.Posts {
			if p.Post.NativeID == "4501010124741909" {
				pics = len(p.Post.Images)
				if p.Post.Images[0] != "http://wx2.sinaimg.cn/large/9c9a6763ly1gegup1spv2j21y61y6e81.jpg" {
					t.Errorf("picture %s", p.Post.Images[0])
				}
			}
		}
		if pics != 9 {
			t.Errorf("9-picture post has %d", pics)
		}
	})
	t.Run("public_timeline_2012", func(t *testing.T) {
		page, err := ParseOpenStatuses(readPayload(t, "openapi_timeline_xiyuweibo.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Posts) != 20 || len(page.Rejected) != 0 || page.Posts[0].ID != 3418805428950587 {
			t.Fatalf("posts %d rejected %d", len(page.Posts), len(page.Rejected))
		}
	})
	t.Run("comments_mentions", func(t *testing.T) {
		cs, next, err := ParseOpenComments(readPayload(t, "openapi_comments_mentions_xiyuweibo.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 12 || next != 0 {
			t.Fatalf("%d comments next %d", len(cs), next)
		}
		if c := cs[0]; c.ID != "3419175786087096" || c.Text != "@mechiland" || c.UserID != "2062846900" || c.StatusID != "3418812693368016" {
			t.Errorf("first comment %+v", c)
		}
	})
	t.Run("error_10017", func(t *testing.T) {
		body := readPayload(t, "openapi_error_weibo_ios_sdk_issue311.json")
		e, ok := ParseOpenError(400, body)
		if !ok || e.Code != 10017 || e.Request != "/2/statuses/share.json" || e.Message != "text not find domain!" {
			t.Fatalf("ParseOpenError = %+v, %v", e, ok)
		}
		if ingest.Class(e) != "other" {
			t.Errorf("10017 class = %q", ingest.Class(e))
		}
		_, err := ParseOpenStatuses(body)
		var oe *OpenError
		if !errors.As(err, &oe) || oe.Code != 10017 {
			t.Errorf("ParseOpenStatuses on an error body = %v", err)
		}
	})
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
