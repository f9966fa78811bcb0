package wechatfake

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// DemoOptions configure Demo.
type DemoOptions struct {
	// Every is the pause between new submissions; default 30s.
	Every time.Duration
	// Initial is the number of submissions present at start; default 5.
	Initial int
	// Seed makes the stream repeatable; 0 picks one from the clock.
	Seed uint64
}

// DemoEnv is a running fake fed with submissions. Point the
// wechat-miniprogram source and the WeChat replier at URL with AppID,
// Secret, Env, Collection and TemplateID.
type DemoEnv struct {
	*Server
	URL        string
	AppID      string
	Secret     string
	Env        string
	Collection string
	TemplateID string
	Page       string

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Close stops the submission stream and the server.
func (d *DemoEnv) Close() {
	d.stop()
	d.wg.Wait()
	d.Server.Close()
}

// DemoTemplateID is the subscribe template the demo server accepts.
const DemoTemplateID = "W25vrVdFrfC1CBXlJG7aGYk0B8y3hR5jLvsTg2Xmhrs"

// Demo starts a fake and keeps adding realistic submissions about problems
// in 马鞍山 (street lights, stairwell windows, noise, rubbish, potholes) until
// ctx ends or Close is called. Some carry a location, some photos; one
// citizen in a few has not authorised messages, so replies to them take
// the record fallback.
func Demo(ctx context.Context, opt DemoOptions) *DemoEnv {
	if opt.Every <= 0 {
		opt.Every = 30 * time.Second
	}
	if opt.Initial <= 0 {
		opt.Initial = 5
	}
	if opt.Seed == 0 {
		opt.Seed = uint64(time.Now().UnixNano())
	}
	s := New(Options{Templates: []string{DemoTemplateID}, Pages: []string{"pages/detail/index"}})
	s.Refuse("oDemoRefuse000000000000000")
	ctx, cancel := context.WithCancel(ctx)
	d := &DemoEnv{
		Server: s, URL: s.URL, AppID: s.opt.AppID, Secret: s.opt.Secret, Env: s.opt.Env,
		Collection: s.opt.Collection, TemplateID: DemoTemplateID, Page: "pages/detail/index?id={id}",
		stop: cancel,
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed>>1|1))
	now := time.Now()
	for i := range opt.Initial {
		s.Add(demoRecord(rng, now.Add(time.Duration(i-opt.Initial)*time.Minute)))
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(opt.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				s.Add(demoRecord(rng, now))
			}
		}
	}()
	return d
}

type demoSubmission struct {
	title, content string
	lat, lon       float64 // 0 when the citizen gave no location
}

var demoSubmissions = []demoSubmission{
	{"楼道窗户脱落", "阳湖花园12栋3单元楼梯间3楼窗户脱落，4到6楼的窗户也脱胶了，风大时很危险。", 31.6552, 118.4951},
	{"广告牌强光扰民", "东方城二区16栋对面楼顶广告牌太亮，每天亮到晚上11点，屋里像白天一样。", 31.7036, 118.5312},
	{"小区门口没路灯", "森隆英郡小区门口一段路没有路灯，晚上出门要打手电。", 0, 0},
	{"路面坑洼", "采石街道横江社区往采石矶去的路上好几个坑，下雨积水看不见。", 31.6303, 118.4562},
	{"垃圾未清运", "湖东路街道华城社区楼下垃圾桶三天没清运，垃圾堆到了路边。", 0, 0},
	{"夜间施工噪音", "半夜一点还在施工，电钻声吵得整栋楼睡不着。", 0, 0},
	{"绿地种菜", "雨山街道翠湖社区绿地被人开荒种菜，还浇粪水，味道很大。", 31.6779, 118.5070},
	{"下水道堵塞", "解放路街道东苑社区下水道堵了，污水从井盖冒出来。", 0, 0},
	{"井盖缺失", "平湖街道湖西社区湖西路上窨井盖缺了一块，只放了个破桶挡着。", 31.6891, 118.4962},
	{"占道经营", "博望镇菜市场门口三轮车和摊位把路堵死了，车过不去。", 31.5596, 118.8365},
	{"路灯不亮", "家门口的路灯坏了快一个月，晚上走路提心吊胆。", 0, 0},
	{"广场舞噪音", "桃源路街道梨苑社区广场舞音响开到九点半以后，家里孩子要复习。", 0, 0},
}

var demoOpenIDs = []string{
	"oAbCd1234xyzDemo0000000001", "oEfGh5678xyzDemo0000000002", "oIjKl9012xyzDemo0000000003",
	"oMnOp3456xyzDemo0000000004", "oDemoRefuse000000000000000",
}

func demoRecord(rng *rand.Rand, at time.Time) map[string]any {
	sub := demoSubmissions[rng.IntN(len(demoSubmissions))]
	rec := map[string]any{
		"_openid":   demoOpenIDs[rng.IntN(len(demoOpenIDs))],
		"title":     sub.title,
		"content":   sub.content,
		"createdAt": at.UTC().Truncate(time.Millisecond),
		"acked":     false,
	}
	if sub.lat != 0 {
		rec["location"] = map[string]any{"type": "Point", "coordinates": []any{sub.lon, sub.lat}}
	}
	if rng.IntN(3) == 0 {
		rec["images"] = []any{"cloud://prod-1a2b3c.7072-prod-1a2b3c-1250000000/img/demo.jpg"}
	}
	return rec
}
