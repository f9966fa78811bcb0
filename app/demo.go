package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/ingest/weibo/weibofake"
)

// startDemo starts fake Weibo servers (m.weibo.cn and the Open API) that keep
// receiving realistic posts, and points a weibo-mobile source, a weibo-open
// source and the Weibo replier at them, so the real pollers and repliers can
// be watched at work without credentials.
func startDemo(ctx context.Context, cfg config.Config, logger *slog.Logger) (config.Config, func(), error) {
	w := weibofake.Demo(ctx, weibofake.DemoOptions{Every: 15 * time.Second})
	cfg.Sources = append(cfg.Sources,
		config.Source{Name: "demo-weibo-mobile", Type: config.SourceWeiboMobile, Topic: w.Topic, Cookie: config.Secret(w.Cookie), BaseURL: w.MobileURL, Interval: config.Duration(10 * time.Second)},
		config.Source{Name: "demo-weibo-open", Type: config.SourceWeiboOpen, Endpoints: []string{"mentions"}, AccessToken: config.Secret(w.Token), BaseURL: w.OpenURL, Interval: config.Duration(30 * time.Second)},
	)
	cfg.Replies.Weibo = config.WeiboReplies{Enabled: true, BaseURL: w.OpenURL, AccessToken: config.Secret(w.Token)}
	logger.Info("demo: fake Weibo servers started", "mobile", w.MobileURL, "open", w.OpenURL, "topic", w.Topic)
	return cfg, w.Close, nil
}
