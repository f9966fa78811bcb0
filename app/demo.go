package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/ingest/wechat/wechatfake"
	"github.com/mashangban/mashangban/ingest/weibo/weibofake"
)

// startDemo starts fake Weibo servers (m.weibo.cn and the Open API) and a
// fake WeChat server (token, cloud database, subscribe messages) that keep
// receiving realistic posts, and points the real sources and repliers at
// them, so the pollers and repliers can be watched at work without
// credentials. The fakes follow the platforms' documented behaviour,
// including their rate limits.
func startDemo(ctx context.Context, cfg config.Config, logger *slog.Logger) (config.Config, func(), error) {
	w := weibofake.Demo(ctx, weibofake.DemoOptions{Every: 15 * time.Second})
	wx := wechatfake.Demo(ctx, wechatfake.DemoOptions{Every: 20 * time.Second})
	cfg.Sources = append(cfg.Sources,
		config.Source{Name: "demo-weibo-mobile", Type: config.SourceWeiboMobile, Topic: w.Topic, Cookie: config.Secret(w.Cookie), BaseURL: w.MobileURL, Interval: config.Duration(10 * time.Second)},
		config.Source{Name: "demo-weibo-open", Type: config.SourceWeiboOpen, Endpoints: []string{"mentions"}, AccessToken: config.Secret(w.Token), BaseURL: w.OpenURL, Interval: config.Duration(30 * time.Second)},
		config.Source{Name: "demo-miniprogram", Type: config.SourceWeChat, AppID: wx.AppID, AppSecret: config.Secret(wx.Secret), Env: wx.Env, Collection: wx.Collection, BaseURL: wx.URL, MarkRead: true, Interval: config.Duration(10 * time.Second)},
	)
	cfg.Replies.Weibo = config.WeiboReplies{Enabled: true, BaseURL: w.OpenURL, AccessToken: config.Secret(w.Token)}
	cfg.Replies.WeChat = config.WeChatReplies{Enabled: true, BaseURL: wx.URL, AppID: wx.AppID, AppSecret: config.Secret(wx.Secret),
		Env: wx.Env, Collection: wx.Collection, TemplateID: wx.TemplateID, Page: wx.Page}
	logger.Info("demo: fake Weibo and WeChat servers started", "weibo_mobile", w.MobileURL, "weibo_open", w.OpenURL, "wechat", wx.URL, "topic", w.Topic)
	return cfg, func() { w.Close(); wx.Close() }, nil
}
