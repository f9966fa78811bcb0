package weibofake

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// DemoOptions configure Demo.
type DemoOptions struct {
	// Topic is the hashtag without # marks; default "马上办".
	Topic string
	// Every is the pause between new posts; default 20s.
	Every time.Duration
	// Initial is the number of posts present at start; default 6.
	Initial int
	// Seed makes the stream repeatable; 0 picks one from the clock.
	Seed uint64
}

// DemoEnv is a running pair of fakes fed with posts. Point the weibo-mobile
// source at MobileURL with Cookie, and weibo-open and the replier at OpenURL
// with Token.
type DemoEnv struct {
	Mobile    *Mobile
	Open      *Open
	MobileURL string
	OpenURL   string
	Cookie    string
	Token     string
	Topic     string

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Close stops the post stream and both servers.
func (d *DemoEnv) Close() {
	d.stop()
	d.wg.Wait()
	d.Mobile.Close()
	d.Open.Close()
}

// Demo starts both fakes and keeps adding realistic posts about problems in
// 马鞍山 (broken street lights, loose windows, noise, water) under the topic
// and as mentions of the city's account, until ctx ends or Close is called.
func Demo(ctx context.Context, opt DemoOptions) *DemoEnv {
	if opt.Topic == "" {
		opt.Topic = "马上办"
	}
	if opt.Every <= 0 {
		opt.Every = 20 * time.Second
	}
	if opt.Initial <= 0 {
		opt.Initial = 6
	}
	if opt.Seed == 0 {
		opt.Seed = uint64(time.Now().UnixNano())
	}
	cookie := "SUB=_2A25demo" + fmt.Sprint(opt.Seed%100000) + "; XSRF-TOKEN=demo"
	token := "2.00demo" + fmt.Sprint(opt.Seed%100000)
	d := &DemoEnv{
		Mobile: NewMobile(MobileOptions{Cookie: cookie, GroupEvery: 4}),
		Open:   NewOpen(OpenOptions{Token: token, TopicsPermission: true}),
		Cookie: cookie, Token: token, Topic: opt.Topic,
	}
	d.MobileURL, d.OpenURL = d.Mobile.URL, d.Open.URL
	ctx, d.stop = context.WithCancel(ctx)
	gen := NewGenerator(opt.Seed, opt.Topic)
	now := time.Now()
	for i := opt.Initial; i > 0; i-- {
		d.add(gen.Next(now.Add(-time.Duration(i) * 7 * time.Minute)))
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
				d.add(gen.Next(now))
			}
		}
	}()
	return d
}

func (d *DemoEnv) add(p Post) {
	d.Mobile.Add(p)
	d.Open.Add(p)
}

// Generator makes realistic citizen posts about 马鞍山 with increasing IDs.
type Generator struct {
	mu    sync.Mutex
	rnd   *rand.Rand
	topic string
	id    int64
}

// NewGenerator returns a seeded generator for topic (without # marks).
func NewGenerator(seed uint64, topic string) *Generator {
	return &Generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), topic: topic, id: 5030112233445566}
}

var (
	demoPlaces = []struct{ place, district string }{
		{"阳湖花园12栋3单元", "雨山区"}, {"湖东路与红旗路交叉口", "花山区"}, {"佳山乡政府门口", "雨山区"},
		{"博望镇新市街", "博望区"}, {"当涂县姑孰镇青山路", "当涂县"}, {"含山县环峰镇褒禅路", "含山县"},
		{"和县历阳镇濮阳路", "和县"}, {"采石矶风景区北门", "雨山区"}, {"金鹰天地广场东侧", "花山区"},
		{"秀山湖公园步道", "雨山区"}, {"霍里街道九华西路", "花山区"}, {"慈湖高新区天门大道", "花山区"},
	}
	demoProblems = []string{
		"楼道窗户脱落，另外4、5、6楼窗户都出现了脱胶情况，存在安全隐患",
		"路灯坏了好几天了，晚上一片漆黑，老人孩子出行很不方便[怒]",
		"广告牌强光照进卧室，到夜里11点还亮着，严重扰民",
		"下水道堵塞，污水漫到路面，气味很大",
		"人行道地砖松动翘起，已经有人绊倒了",
		"小区门口没有路灯，希望尽快安装",
		"工地夜间施工噪音太大，凌晨还在打桩，根本睡不着",
		"自来水发黄有异味，已经持续两天了",
		"公交站台顶棚破损，下雨天没法等车",
		"垃圾桶满了没人清运，苍蝇很多[吐]",
		"窨井盖缺失，路过的电动车很危险",
		"共享单车乱停乱放，把盲道都堵住了",
	}
	demoNames = []string{"市民甲", "湖东路居民", "雨山小王", "花山老李", "当涂阿姨", "博望青年", "含山小陈", "江东一枝花"}
	demoLong  = "补充说明：这个问题已经反映过一次了，社区工作人员来看过，说要上报，但是到现在还没有处理。" +
		"附近住的大多是老人，晚上出门真的很不安全，前几天还有人摔倒受伤，希望相关部门能够尽快安排人员现场查看，" +
		"给出一个处理时间，谢谢！也希望以后能定期巡查，不要等居民反映了才处理。"
)

// Next returns a new post created at t.
func (g *Generator) Next(t time.Time) Post {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.id += 1000 + g.rnd.Int64N(100000)
	pl := demoPlaces[g.rnd.IntN(len(demoPlaces))]
	text := "#" + g.topic + "# 马鞍山" + pl.district + pl.place + demoProblems[g.rnd.IntN(len(demoProblems))]
	if g.rnd.IntN(4) == 0 {
		text += "\n" + demoLong
	}
	mentions := g.rnd.IntN(2) == 0
	if mentions {
		text += " @马鞍山发布"
	}
	p := Post{
		ID: g.id, UID: 7000000000 + g.rnd.Int64N(999999999), ScreenName: demoNames[g.rnd.IntN(len(demoNames))],
		Text: text, CreatedAt: t, Region: "安徽", Location: "安徽 马鞍山", Mentions: mentions,
	}
	if g.rnd.IntN(3) == 0 {
		p.Pics = []string{fmt.Sprintf("006demo%xgy1h%d", g.id%0xffffff, g.rnd.IntN(1000))}
	}
	if g.rnd.IntN(5) == 0 {
		p.Geo = &[2]float64{31.67 + g.rnd.Float64()*0.1, 118.50 + g.rnd.Float64()*0.1}
	}
	return p
}
