package weibo

import (
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/reply"
)

func TestPlainText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "小区门口路灯坏了三天", "小区门口路灯坏了三天"},
		{"br", "第一行<br />第二行<br>第三行", "第一行\n第二行\n第三行"},
		{"hashtag anchor", `路灯坏了<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D%23%E9%A9%AC%E4%B8%8A%E5%8A%9E%23&extparam=%23%E9%A9%AC%E4%B8%8A%E5%8A%9E%23" data-hide=""><span class="surl-text">#马上办#</span></a> `, "路灯坏了#马上办#"},
		{"mention", `请<a href='/n/马鞍山发布'>@马鞍山发布</a> 看看`, "请@马鞍山发布 看看"},
		{"emoji alt unquoted", `太吵了<span class="url-icon"><img alt=[怒] src="//h5.sinaimg.cn/m/emoticon/icon/default/d_nu-48b3e9e6ba.png" style="width:1em; height:1em;" /></span>`, "太吵了[怒]"},
		{"emoji alt quoted", `好<img alt="[微笑]" src="x.png">`, "好[微笑]"},
		{"link card keeps label, drops icon", `<a href="https://video.weibo.com/show?fid=1"><span class='url-icon'><img style='width: 1rem;height: 1rem' src='//h5.sinaimg.cn/upload/2015/09/25/3/timeline_card_small_video_default.png'></span><span class="surl-text">某某的微博视频</span></a>`, "某某的微博视频"},
		{"full text link dropped", `很长的一段话 ...<a href="/status/4827356935755865">全文</a>`, "很长的一段话 ..."},
		{"entities", "A&amp;B &lt;路&gt;", "A&B <路>"},
		{"zero width and spaces", "\u200b 路灯坏了 \u200b", "路灯坏了"},
		{"unclosed tag", "路灯<a href='/n/x'>@x", "路灯@x"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlainText(tt.in); got != tt.want {
				t.Errorf("PlainText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCreatedAt(t *testing.T) {
	// 2024-05-07 10:30:00 in Shanghai.
	now := time.Date(2024, 5, 7, 10, 30, 0, 0, Shanghai)
	sh := func(y int, m time.Month, d, h, mi, s int) time.Time { return time.Date(y, m, d, h, mi, s, 0, Shanghai) }
	tests := []struct {
		in   string
		want time.Time
	}{
		{"Tue May 07 09:12:44 +0800 2024", sh(2024, 5, 7, 9, 12, 44)},
		{"Wed Oct 26 17: 29: 30 +0800 2022", sh(2022, 10, 26, 17, 29, 30)},
		{"刚刚", now},
		{"30秒前", now.Add(-30 * time.Second)},
		{"5分钟前", now.Add(-5 * time.Minute)},
		{"6小时前", now.Add(-6 * time.Hour)},
		{"今天 08:05", sh(2024, 5, 7, 8, 5, 0)},
		{"昨天 18:12", sh(2024, 5, 6, 18, 12, 0)},
		{"05-01", sh(2024, 5, 1, 0, 0, 0)},
		{"12-16", sh(2023, 12, 16, 0, 0, 0)}, // later than now this year: last year
		{"05-01 09:30", sh(2024, 5, 1, 9, 30, 0)},
		{"2019-12-16", sh(2019, 12, 16, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCreatedAt(tt.in, now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseCreatedAt(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	// Yesterday across a year boundary.
	got, err := ParseCreatedAt("昨天 23:59", time.Date(2025, 1, 1, 0, 10, 0, 0, Shanghai))
	if err != nil || !got.Equal(sh(2024, 12, 31, 23, 59, 0)) {
		t.Errorf("昨天 across new year = %v, %v", got, err)
	}
	// The clock's zone does not matter: relative forms are read in Shanghai.
	got, err = ParseCreatedAt("昨天 18:12", now.UTC())
	if err != nil || !got.Equal(sh(2024, 5, 6, 18, 12, 0)) {
		t.Errorf("UTC clock: %v, %v", got, err)
	}
	for _, bad := range []string{"", "昨天 25:00", "13-01", "明天", "Tue May 07 +0800", "99999999999分钟前x"} {
		if _, err := ParseCreatedAt(bad, now); err == nil {
			t.Errorf("ParseCreatedAt(%q) succeeded", bad)
		}
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"", 0}, {"0", 0}, {"42", 42}, {"1.2万", 12000}, {"138.5万", 1385000}, {"100万+", 1000000},
		{"3亿", 300000000}, {" 11万 ", 110000},
	}
	for _, tt := range tests {
		got, err := ParseCount(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"万", "abc", "-1", "1e400万", "NaN"} {
		if _, err := ParseCount(bad); err == nil {
			t.Errorf("ParseCount(%q) succeeded", bad)
		}
	}
}

func TestRegionAndPictures(t *testing.T) {
	if got := RegionHint("发布于 安徽"); got != "安徽" {
		t.Errorf("RegionHint = %q", got)
	}
	for in, want := range map[string]string{
		"https://wx3.sinaimg.cn/orj360/006iQiKJgy1h7aeo3dmbnj30sg0zktk3.jpg": "https://wx3.sinaimg.cn/large/006iQiKJgy1h7aeo3dmbnj30sg0zktk3.jpg",
		"http://wx1.sinaimg.cn/thumbnail/abc123.jpg":                         "http://wx1.sinaimg.cn/large/abc123.jpg",
		"http://wx1.sinaimg.cn/large/abc123.jpg":                             "http://wx1.sinaimg.cn/large/abc123.jpg",
		"https://example.com/thumbnail/x.jpg":                                "https://example.com/thumbnail/x.jpg",
	} {
		if got := LargePicture(in); got != want {
			t.Errorf("LargePicture(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrepareComment(t *testing.T) {
	if got := PrepareComment("您反映的问题已转交 #马上办# 编号MSB-1", 140); strings.Contains(got, "#") || got != "您反映的问题已转交 马上办 编号MSB-1" {
		t.Errorf("PrepareComment kept hashtag marks: %q", got)
	}
	long := strings.Repeat("路", 200)
	got := PrepareComment(long, 140)
	if reply.WeiboLength(got) > 140 || !strings.HasSuffix(got, "…") || reply.WeiboLength(got) < 139 {
		t.Errorf("PrepareComment long: length %d, %q", reply.WeiboLength(got), got)
	}
}
