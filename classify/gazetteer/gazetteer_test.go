package gazetteer

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mashangban/mashangban/classify/segment"
	"github.com/mashangban/mashangban/model"
)

// defaultPlaces is the places file shipped with the default rule set, read
// from the repository (rules/default lives two levels up from this package).
var defaultPlaces = filepath.Join("..", "..", "rules", "default", "places.yaml")

func newDefault(t testing.TB) *Gazetteer {
	t.Helper()
	data, err := os.ReadFile(defaultPlaces)
	if err != nil {
		t.Fatal(err)
	}
	places, err := ParsePlaces("places.yaml", data)
	if err != nil {
		t.Fatalf("default places file: %v", err)
	}
	g, err := New(places)
	if err != nil {
		t.Fatalf("default places file: %v", err)
	}
	return g
}

func TestDivisionCounts(t *testing.T) {
	divs, err := base()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, d := range divs {
		count[d.Kind]++
		if placeholder(d.Name) {
			t.Errorf("placeholder row kept: %s %s", d.Code, d.Name)
		}
		if !strings.HasPrefix(d.Code, d.District) {
			t.Errorf("%s %s: district %s is not a prefix of its code", d.Code, d.Name, d.District)
		}
	}
	// 567 communities and villages in the statistics, of which 9 are NBS placeholders.
	want := map[string]int{KindDistrict: 6, KindStreet: 59, KindCommunity: 558}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: %d divisions, want %d", k, count[k], n)
		}
	}
	g := newDefault(t)
	if got := len(g.Districts()); got != 6 {
		t.Errorf("Districts: %d, want 6", got)
	}
	if d, ok := g.District("340523"); !ok || d.Name != "和县" {
		t.Errorf("District(340523) = %v, %v", d, ok)
	}
	if _, ok := g.District("340502"); ok {
		t.Error("District(340502): a code not in the city was found")
	}
	if name, kind, district, ok := g.Division("340504200002"); !ok || name != "阳湖社区居委会" || kind != KindCommunity || district != "340504" {
		t.Errorf("Division(340504200002) = %q %q %q %v", name, kind, district, ok)
	}
	if _, _, _, ok := g.Division("340503008498"); ok {
		t.Error("Division found a placeholder row")
	}
}

func TestWords(t *testing.T) {
	g := newDefault(t)
	words := g.Words()
	has := func(w string) bool { _, ok := slices.BinarySearch(words, w); return ok }
	for _, w := range []string{
		"阳湖社区居委会", "阳湖社区", "东方城社区", "东方城", "霍里村", "和县", "当涂", "湖东路",
		"印山东路", "阳湖花园", "阳湖花园小区", "郑蒲港", "龙山村", "花山", "博望",
	} {
		if !has(w) {
			t.Errorf("Words lacks %q", w)
		}
	}
	// Too short or ordinary words, never names on their own.
	// Two-character stems of communities and villages are not names either.
	for _, w := range []string{"和", "人民", "团结", "花园", "长江", "新农村", "明珠", "阳湖", "九华", "里桥"} {
		if has(w) {
			t.Errorf("Words has %q", w)
		}
	}
	if !slices.IsSorted(words) {
		t.Error("Words is not sorted")
	}
}

func names(ds []model.District) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

func TestFind(t *testing.T) {
	g := newDefault(t)
	tests := []struct {
		name   string
		tokens []string
		want   []model.PlaceMatch
	}{
		{"split by the segmenter", []string{"在", "阳湖", "社区", "门口"},
			[]model.PlaceMatch{{Text: "阳湖社区", Kind: KindCommunity, Code: "340504200002", District: "340504"}}},
		{"longest wins", []string{"阳湖花园", "12", "栋"},
			[]model.PlaceMatch{{Text: "阳湖花园", Kind: KindCompound, Code: "340504200002", District: "340504"}}},
		{"name inside a longer word is not a match", []string{"雨山区", "新", "市民"},
			[]model.PlaceMatch{{Text: "雨山区", Kind: KindDistrict, Code: "340504", District: "340504"}}},
		{"和 as a conjunction", []string{"县政府", "和县", "物价局"}, nil},
		{"border road has no single district", []string{"华山南路", "马向路"},
			[]model.PlaceMatch{{Text: "华山南路", Kind: KindRoad}, {Text: "马向路", Kind: KindRoad}}},
		{"ambiguous village", []string{"龙山村", "的", "路"},
			[]model.PlaceMatch{{Text: "龙山村", Kind: KindCommunity}}},
		{"street stem", []string{"湖东路", "上"},
			[]model.PlaceMatch{{Text: "湖东路", Kind: KindStreet, Code: "340503003", District: "340503"}}},
		{"higher level wins a shared stem", []string{"佳山"},
			[]model.PlaceMatch{{Text: "佳山", Kind: KindStreet, Code: "340504200", District: "340504"}}},
		{"nothing", []string{"人民", "群众", "反映"}, nil},
		{"empty tokens are skipped", []string{"", "和县", ""},
			[]model.PlaceMatch{{Text: "和县", Kind: KindDistrict, Code: "340523", District: "340523"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.Find(tt.tokens)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Find(%q)\n got %+v\nwant %+v", tt.tokens, got, tt.want)
			}
		})
	}
}

// gcjToWGS inverts WGS84ToGCJ02 by fixed-point iteration, for building
// test points in WGS-84.
func gcjToWGS(lon, lat float64) (float64, float64) {
	wl, wt := lon, lat
	for range 10 {
		gl, gt := WGS84ToGCJ02(wl, wt)
		wl, wt = wl-(gl-lon), wt-(gt-lat)
	}
	return wl, wt
}

// Points inside each district: the "center" (seat of government) that the
// DataV GeoAtlas file gives for each feature.
var centers = map[string][2]float64{
	"花山区": {118.511308, 31.69902},
	"雨山区": {118.493104, 31.685912},
	"博望区": {118.843742, 31.562321},
	"当涂县": {118.489873, 31.556167},
	"含山县": {118.105545, 31.727758},
	"和县":  {118.362998, 31.716634},
}

func TestResolve(t *testing.T) {
	g := newDefault(t)
	type want struct {
		districts []string
		by        string
		border    bool
		places    []string
	}
	tests := []struct {
		name   string
		text   string
		geo    *model.Geo
		region string
		want   want
	}{
		{"street to district", "向山镇这边的路灯坏了一个月", nil, "",
			want{[]string{"雨山区"}, ByPlace, false, []string{"向山镇"}}},
		{"community short form", "阳湖社区楼道窗户脱落", nil, "",
			want{[]string{"雨山区"}, ByPlace, false, []string{"阳湖社区"}}},
		{"community bare stem", "东方城小区门口没有路灯", nil, "",
			want{[]string{"花山区"}, ByPlace, false, []string{"东方城"}}},
		{"compound from the seed article", "阳湖花园12栋3单元楼梯间3楼窗户脱落", nil, "",
			want{[]string{"雨山区"}, ByPlace, false, []string{"阳湖花园"}}},
		{"compound to community to district", "东方城二区16栋对面楼顶广告牌强光太亮", nil, "",
			want{[]string{"花山区"}, ByPlace, false, []string{"东方城二区"}}},
		{"road on a border", "华山南路马向路至印山东路一段菜地七零八落", nil, "",
			want{[]string{"花山区", "雨山区"}, ByPlace, true, []string{"华山南路", "马向路", "印山东路"}}},
		{"border road narrowed by a compound", "华山南路阳湖花园门口垃圾", nil, "",
			want{[]string{"雨山区"}, ByPlace, false, []string{"华山南路", "阳湖花园"}}},
		{"two districts named", "花山区和雨山区交界处塑料垃圾乱披乱挂", nil, "",
			want{[]string{"花山区", "雨山区"}, ByPlace, true, []string{"花山区", "雨山区"}}},
		{"district and its street agree", "马鞍山市雨山区采石街道", nil, "",
			want{[]string{"雨山区"}, ByPlace, false, []string{"雨山区", "采石街道"}}},
		{"county short form", "当涂这边的公交车太少", nil, "",
			want{[]string{"当涂县"}, ByPlace, false, []string{"当涂"}}},
		{"和 as a conjunction", "镇政府和县国土局都不管", nil, "",
			want{nil, ByNone, false, nil}},
		{"和县 after a place", "马鞍山市和县乌江镇", nil, "",
			want{[]string{"和县"}, ByPlace, false, []string{"和县", "乌江镇"}}},
		{"和县 at the start", "和县城区的路灯坏了", nil, "",
			want{[]string{"和县"}, ByPlace, false, []string{"和县"}}},
		{"和县 after punctuation", "我是外地人，和县的朋友说", nil, "",
			want{[]string{"和县"}, ByPlace, false, []string{"和县"}}},
		{"district short form kept by hand", "博望的路灯坏了", nil, "",
			want{[]string{"博望区"}, ByPlace, false, []string{"博望"}}},
		{"a road named after a district is not the district", "花山路上的路灯坏了", nil, "",
			want{nil, ByNone, false, []string{"花山路"}}},
		{"place beats geo", "含山县城的路灯", &model.Geo{Lat: 31.69902, Lon: 118.511308}, "",
			want{[]string{"含山县"}, ByPlace, false, []string{"含山县"}}},
		{"road with district not verified uses geo", "印山东路有个大坑", &model.Geo{Lat: 31.685912, Lon: 118.493104}, "",
			want{[]string{"雨山区"}, ByGeo, false, []string{"印山东路"}}},
		{"ambiguous village uses geo", "龙山村的路灯坏了", &model.Geo{Lat: 31.556167, Lon: 118.489873}, "",
			want{[]string{"当涂县"}, ByGeo, false, []string{"龙山村"}}},
		{"geo point outside the city", "路灯坏了", &model.Geo{Lat: 32.0603, Lon: 118.7969}, "",
			want{nil, ByNone, false, nil}},
		{"unknown geo system", "路灯坏了", &model.Geo{Lat: 31.69902, Lon: 118.511308, System: "osgb36"}, "",
			want{nil, ByNone, false, nil}},
		{"region names a district", "路灯坏了", nil, "安徽 马鞍山 和县",
			want{[]string{"和县"}, ByRegion, false, nil}},
		{"region names only the city", "路灯坏了", nil, "安徽 马鞍山",
			want{nil, ByNone, false, nil}},
		{"geo beats region", "路灯坏了", &model.Geo{Lat: 31.562321, Lon: 118.843742}, "安徽 马鞍山 和县",
			want{[]string{"博望区"}, ByGeo, false, nil}},
		{"unknown", "人民群众反映路灯坏了", nil, "",
			want{nil, ByNone, false, nil}},
		{"empty", "", nil, "", want{nil, ByNone, false, nil}},
	}
	for name, c := range centers {
		tests = append(tests, struct {
			name   string
			text   string
			geo    *model.Geo
			region string
			want   want
		}{"geo inside " + name, "楼下噪音扰民", &model.Geo{Lat: c[1], Lon: c[0], System: "gcj02"}, "",
			want{[]string{name}, ByGeo, false, nil}})
		wl, wt := gcjToWGS(c[0], c[1])
		tests = append(tests, struct {
			name   string
			text   string
			geo    *model.Geo
			region string
			want   want
		}{"wgs84 point inside " + name, "楼下噪音扰民", &model.Geo{Lat: wt, Lon: wl, System: "wgs84"}, "",
			want{[]string{name}, ByGeo, false, nil}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := g.Resolve(tt.text, nil, tt.geo, tt.region)
			var places []string
			for _, p := range r.Places {
				places = append(places, p.Text)
			}
			if got := names(r.Districts); !slices.Equal(got, tt.want.districts) || r.By != tt.want.by ||
				r.Border != tt.want.border || !slices.Equal(places, tt.want.places) {
				t.Errorf("Resolve(%q)\n got districts %v by %s border %v places %v\nwant districts %v by %s border %v places %v",
					tt.text, got, r.By, r.Border, places, tt.want.districts, tt.want.by, tt.want.border, tt.want.places)
			}
		})
	}
}

// A WGS-84 point near a district boundary lands in a different district
// unless converted: the conversion shifts points in 马鞍山 by about 500 m.
func TestWGS84Shift(t *testing.T) {
	// Published test vector of the standard formula (Beijing).
	lon, lat := WGS84ToGCJ02(116.404, 39.915)
	if math.Abs(lon-116.41024449916938) > 1e-9 || math.Abs(lat-39.91640428150164) > 1e-9 {
		t.Errorf("WGS84ToGCJ02(116.404, 39.915) = %v, %v", lon, lat)
	}
	lon, lat = BD09ToGCJ02(116.404, 39.915)
	if math.Abs(lon-116.39762729119315) > 1e-9 || math.Abs(lat-39.90865673957631) > 1e-9 {
		t.Errorf("BD09ToGCJ02(116.404, 39.915) = %v, %v", lon, lat)
	}
	if lon, lat := WGS84ToGCJ02(-0.1276, 51.5072); lon != -0.1276 || lat != 51.5072 {
		t.Errorf("a point outside China moved: %v, %v", lon, lat)
	}
}

func TestResolveUsesTokens(t *testing.T) {
	g := newDefault(t)
	// 新市 is the short form of 新市镇 (博望区); in "新市民" it is not a word.
	r := g.Resolve("新市民服务中心", []string{"新", "市民", "服务", "中心"}, nil, "")
	if len(r.Districts) != 0 || len(r.Places) != 0 {
		t.Errorf("with tokens: %v places %v", names(r.Districts), r.Places)
	}
	r = g.Resolve("新市民服务中心", nil, nil, "")
	if got := names(r.Districts); !slices.Equal(got, []string{"博望区"}) {
		t.Errorf("raw text: %v", got)
	}
}

func BenchmarkNew(b *testing.B) {
	data, err := os.ReadFile(defaultPlaces)
	if err != nil {
		b.Fatal(err)
	}
	places, err := ParsePlaces("places.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := New(places); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	g := newDefault(b)
	text := "家住马鞍山市花山区森隆英郡小区，小区门口没路灯、绿地上面有人种菜，华山南路马向路至印山东路一段菜地七零八落"
	for b.Loop() {
		g.Resolve(text, nil, nil, "安徽 马鞍山")
	}
}

// A Gazetteer is shared by every classifier goroutine.
func TestConcurrentResolve(t *testing.T) {
	g := newDefault(t)
	texts := []string{"华山南路马向路至印山东路一段", "阳湖花园12栋3单元", "路灯坏了"}
	geo := &model.Geo{Lat: 31.562321, Lon: 118.843742}
	want := make([]Resolution, len(texts))
	for i, text := range texts {
		want[i] = g.Resolve(text, nil, geo, "安徽 马鞍山")
	}
	var wg sync.WaitGroup
	for n := range 8 {
		wg.Go(func() {
			for i := range 100 {
				k := (n + i) % len(texts)
				got := g.Resolve(texts[k], nil, geo, "安徽 马鞍山")
				if !slices.Equal(got.Districts, want[k].Districts) || got.By != want[k].By {
					t.Errorf("concurrent Resolve(%q) = %+v, want %+v", texts[k], got, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestResolveRunningText: real 马鞍山 names written the way people write
// them, followed by a word ending (上, 里, 边, 附近, 门口, ...) that the
// segmenter glues to the name's last character. The real segmenter cuts
// the text, as in the daemon.
func TestResolveRunningText(t *testing.T) {
	g := newDefault(t)
	seg, err := segment.New(g.Words())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text      string
		districts []string
		places    []string
	}{
		{"湖东路上的路灯坏了一个星期", []string{"花山区"}, []string{"湖东路"}},
		{"沙塘路边上的垃圾桶满了", []string{"花山区"}, []string{"沙塘路"}},
		{"桃源路附近晚上有人放鞭炮", []string{"花山区"}, []string{"桃源路"}},
		{"金家庄一带货车晚上鸣笛", []string{"花山区"}, []string{"金家庄"}},
		{"东方城里的路灯不亮", []string{"花山区"}, []string{"东方城"}},
		{"东方城门口有人摆摊", []string{"花山区"}, []string{"东方城"}},
		{"阳湖社区门口垃圾没人清", []string{"雨山区"}, []string{"阳湖社区"}},
		{"半山花园小区里停车太乱", []string{"雨山区"}, []string{"半山花园"}},
		{"向山镇上的公交车太少", []string{"雨山区"}, []string{"向山镇"}},
		{"当涂县城的出租车拒载", []string{"当涂县"}, []string{"当涂县"}},
		{"采石矶旁边的停车场乱收费", []string{"雨山区"}, []string{"采石矶"}},
		{"霸王祠附近的路坑坑洼洼", []string{"和县"}, []string{"霸王祠"}},
		{"凌家滩遗址里有人乱倒垃圾", []string{"含山县"}, []string{"凌家滩遗址"}},
		{"褒禅山上有人烧荒", []string{"含山县"}, []string{"褒禅山"}},
		{"秀山湖公园里有人钓鱼", []string{"花山区"}, []string{"秀山湖公园"}},
		{"秀山湖公园旁边广场舞太吵", []string{"花山区"}, []string{"秀山湖公园"}},
		{"李白墓园门口停车收费", []string{"当涂县"}, []string{"李白墓园"}},
		{"采石场的货车晚上鸣笛", nil, nil},  // a quarry, not 采石街道
		{"新市民服务中心态度不好", nil, nil}, // 新市 only across words
		{"去年陡门口有人摆摊", nil, nil},   // 去年 (last year) comes first
		{"县政府和县物价局都不管", nil, nil}, // 和 is the conjunction
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			r := g.Resolve(tt.text, seg.Cut(tt.text), nil, "")
			var places []string
			for _, p := range r.Places {
				places = append(places, p.Text)
			}
			if got := names(r.Districts); !slices.Equal(got, tt.districts) || !slices.Equal(places, tt.places) {
				t.Errorf("cut %q: districts %v places %v, want %v %v", seg.Cut(tt.text), got, places, tt.districts, tt.places)
			}
		})
	}
}
