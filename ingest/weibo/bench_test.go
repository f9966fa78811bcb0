package weibo

import (
	"testing"
	"time"
)

// Parsing speed on the largest captured pages (go test -bench . -run ^$).

func BenchmarkParseMobilePage(b *testing.B) {
	body := readPayload(b, "mweibo_hot102803_weibo-trending.json")
	now := time.Date(2022, 11, 4, 12, 0, 0, 0, Shanghai)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMobilePage(body, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOpenStatuses(b *testing.B) {
	body := readPayload(b, "openapi_home_timeline_Elaizaikd-weibo.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseOpenStatuses(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlainText(b *testing.B) {
	html := `小区门口路灯坏了三天<br /><a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D%23%E9%A9%AC%E4%B8%8A%E5%8A%9E%23" data-hide=""><span class="surl-text">#马上办#</span></a> 请<a href='/n/马鞍山发布'>@马鞍山发布</a> 看看<span class="url-icon"><img alt=[怒] src="//h5.sinaimg.cn/x.png" style="width:1em; height:1em;" /></span>`
	b.SetBytes(int64(len(html)))
	b.ReportAllocs()
	for b.Loop() {
		_ = PlainText(html)
	}
}

func BenchmarkParseCreatedAt(b *testing.B) {
	now := time.Date(2024, 5, 7, 10, 30, 0, 0, Shanghai)
	for b.Loop() {
		for _, s := range []string{"Tue May 07 09:12:44 +0800 2024", "昨天 18:12", "12-16", "5分钟前"} {
			if _, err := ParseCreatedAt(s, now); err != nil {
				b.Fatal(err)
			}
		}
	}
}
