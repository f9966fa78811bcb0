package dispatch

import (
	"sync"
	"testing"

	"github.com/mashangban/mashangban/classify/segment"
	"github.com/mashangban/mashangban/model"
)

// examplePair is two posts from the same district: either the same problem
// told again in other words (repeat) or a different problem at the same or a
// nearby place. The texts are written the way citizens write on the channel.
type examplePair struct {
	name   string
	a, b   string
	pa, pb []model.PlaceMatch
	ca, cb string // categories
	repeat bool
}

func place(kind, text string) []model.PlaceMatch {
	return []model.PlaceMatch{{Text: text, Kind: kind}}
}

var gazetteer = []string{"东方城二区", "东方城", "湖东路", "佳山路", "金鹰天地", "雨山湖公园", "太白大道",
	"红旗中路", "采石河", "九华西路", "万达广场", "恒大华府", "银塘镇", "湖北路", "翠湖小区", "幸福路"}

var roads = []model.PlaceMatch{{Text: "湖东路", Kind: "road"}, {Text: "佳山路", Kind: "road"}}

var examplePairs = []examplePair{
	// Two of the three reports of the same windows in examples/posts.jsonl:
	// few shared words, same compound, same category.
	{name: "stairwell windows, same compound, other words",
		a: "阳湖花园12栋3单元楼梯间3楼窗户脱落，另外4、5、6楼窗户都出现了脱胶情况，风一大就晃，怕砸到人，请社区尽快处理。", pa: place("compound", "阳湖花园"), ca: "stairwell",
		b: "阳湖花园那栋楼楼梯间的窗户上周反映过了，到现在还没修，三楼窗户就用纸板挡着，什么时候来修？", pb: place("compound", "阳湖花园"), cb: "stairwell",
		repeat: true},
	{name: "same road, same category, other words",
		a: "湖东路北段路灯晚上全黑了", pa: place("road", "湖东路"), ca: "streetlight",
		b: "湖东路靠近公交站那边有两盏灯一闪一闪的", pb: place("road", "湖东路"), cb: "streetlight",
		repeat: false},
	{name: "billboard glare reworded",
		a: "东方城二区16栋对面楼顶广告牌强光太亮，晚上11点还亮着", pa: place("compound", "东方城二区"), ca: "市容",
		b: "东方城二区对面的广告牌灯光太亮了，晚上刺眼睡不着，广告牌强光扰民", pb: place("compound", "东方城二区"), cb: "市容",
		repeat: true},
	{name: "street light out reworded",
		a: "翠湖小区门口路灯坏了，晚上很黑", pa: place("compound", "翠湖小区"), ca: "路灯",
		b: "翠湖小区门口的路灯不亮好几天了，晚上路灯不亮很黑很危险", pb: place("compound", "翠湖小区"), cb: "路灯",
		repeat: true},
	{name: "manhole cover reworded",
		a: "湖东路和佳山路路口井盖丢失，很危险", pa: roads, ca: "市政设施",
		b: "佳山路湖东路路口的井盖不见了，晚上有人差点掉下去，井盖丢失很危险", pb: roads, cb: "市政设施",
		repeat: true},
	{name: "noise at night reworded",
		a: "金鹰天地楼下烧烤店每天晚上吵到凌晨两点，噪音扰民", pa: place("landmark", "金鹰天地"), ca: "噪音",
		b: "金鹰天地楼下的烧烤店噪音太大了，晚上吵得睡不着", pb: place("landmark", "金鹰天地"), cb: "噪音",
		repeat: true},
	{name: "garbage not collected, no place",
		a: "小区垃圾好几天没人清运，垃圾桶满了臭气熏天", ca: "环卫",
		b: "小区垃圾桶满了没人清运，垃圾堆在外面臭气熏天", cb: "环卫",
		repeat: true},
	{name: "copy-paste repost",
		a: "恒大华府门口道路塌陷，车辆无法通行，请尽快处理", pa: place("compound", "恒大华府"), ca: "道路",
		b: "恒大华府门口道路塌陷，车辆无法通行，请尽快处理！！", pb: place("compound", "恒大华府"), cb: "道路",
		repeat: true},
	{name: "same compound, light vs garbage",
		a: "翠湖小区门口路灯坏了，晚上很黑", pa: place("compound", "翠湖小区"), ca: "路灯",
		b: "翠湖小区门口垃圾堆积很多天了，晚上很臭", pb: place("compound", "翠湖小区"), cb: "环卫",
		repeat: false},
	{name: "same compound, same category unknown, light vs parking",
		a: "东方城二区门口没有路灯，晚上很黑", pa: place("compound", "东方城二区"),
		b: "东方城二区门口乱停车，晚上车辆堵住消防通道", pb: place("compound", "东方城二区"),
		repeat: false},
	{name: "same road, manhole vs traffic light",
		a: "湖东路和佳山路路口井盖丢失，很危险", pa: roads,
		b: "湖东路和佳山路路口红绿灯坏了，路口很危险", pb: roads,
		repeat: false},
	{name: "same problem, different compound",
		a: "翠湖小区门口路灯坏了，晚上很黑", pa: place("compound", "翠湖小区"), ca: "路灯",
		b: "恒大华府门口路灯坏了，晚上很黑", pb: place("compound", "恒大华府"), cb: "路灯",
		repeat: false},
	{name: "no place, light vs water",
		a: "小区路灯坏了好几天了，晚上很黑", ca: "路灯",
		b: "小区停水好几天了，也没有通知", cb: "供水",
		repeat: false},
	{name: "same landmark, noise vs smoke",
		a: "金鹰天地楼下烧烤店每天晚上吵到凌晨两点，噪音扰民", pa: place("landmark", "金鹰天地"),
		b: "金鹰天地楼下烧烤店油烟太大，熏得家里窗户都不敢开", pb: place("landmark", "金鹰天地"),
		repeat: false},
}

var (
	segOnce sync.Once
	seg     *segment.Segmenter
	segErr  error
)

func testSegmenter(t testing.TB) *segment.Segmenter {
	t.Helper()
	segOnce.Do(func() { seg, segErr = segment.New(gazetteer) })
	if segErr != nil {
		t.Fatal(segErr)
	}
	return seg
}

func TestRepeatExamples(t *testing.T) {
	t.Parallel()
	s := testSegmenter(t)
	for _, p := range examplePairs {
		t.Run(p.name, func(t *testing.T) {
			a := fingerprintOf(model.Decision{Tokens: s.Cut(p.a), Category: p.ca, Explanation: model.Explanation{Places: p.pa}})
			b := fingerprintOf(model.Decision{Tokens: s.Cut(p.b), Category: p.cb, Explanation: model.Explanation{Places: p.pb}})
			got, sc := isRepeat(b, a)
			t.Logf("score %.2f, repeat %v", sc, got)
			if got != p.repeat {
				t.Errorf("isRepeat = %v (score %.2f, words %v | %v), want %v", got, sc, a.Words, b.Words, p.repeat)
			}
			// The decision must not depend on which post came first.
			if back, _ := isRepeat(a, b); back != got {
				t.Errorf("isRepeat is not symmetric: %v one way, %v the other", got, back)
			}
		})
	}
}

func TestSimHashAndJaccard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b    []string
		j       float64
		maxBits int
	}{
		{[]string{"井盖", "丢失"}, []string{"井盖", "丢失"}, 1, 0},
		{[]string{"井盖", "丢失"}, []string{"红绿灯", "坏"}, 0, 64},
		{[]string{"a", "b", "c"}, []string{"b", "c", "d"}, 0.5, 64},
		{nil, []string{"x"}, 0, 64},
	}
	for _, tt := range tests {
		if got := jaccard(tt.a, tt.b); got != tt.j {
			t.Errorf("jaccard(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.j)
		}
		if d := hamming(simHash(tt.a), simHash(tt.b)); d > tt.maxBits {
			t.Errorf("hamming(%v, %v) = %d, want <= %d", tt.a, tt.b, d, tt.maxBits)
		}
	}
	if got := placeKey([]model.PlaceMatch{{Text: "花山区", Kind: "district"}, {Text: "湖东路", Kind: "road"}, {Text: "东方城", Kind: "compound"}}); got != "compound:东方城" {
		t.Errorf("placeKey = %q, want the compound", got)
	}
}
