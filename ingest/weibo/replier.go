package weibo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/reply"
)

// ReplierOptions configure the Weibo comment replier.
type ReplierOptions struct {
	// AccessToken of the city's account (a secret).
	AccessToken string
	// BaseURL defaults to https://api.weibo.com.
	BaseURL string
	// RIP is sent as rip, the operating user's real IP, which the current
	// comments/create documentation marks required. Omitted when empty.
	RIP string
	// AccountUID, when set, makes Sent match only comments by this user.
	AccountUID string
	// MaxUnits is the comment length limit in Weibo units (see
	// reply.WeiboLength); default 140.
	MaxUnits int
	// SentPages is how many pages of 200 comments Sent reads; default 2.
	SentPages int
	// CommentsPerHour is the comments quota of the app's level (60 at
	// test and normal level); Rate spreads it over the hour.
	CommentsPerHour int
	Timeout         time.Duration
	Now             func() time.Time
	HTTPClient      *http.Client
	Logger          *slog.Logger // already carrying component/source attributes
	Registerer      prometheus.Registerer
}

// Replier acknowledges Weibo posts with a comment (comments/create).
type Replier struct {
	opt ReplierOptions
	api *openClient
	log *slog.Logger
}

var _ reply.Replier = (*Replier)(nil)

// NewReplier builds the Weibo replier.
func NewReplier(opt ReplierOptions) (*Replier, error) {
	if opt.AccessToken == "" {
		return nil, errors.New("weibo replier: access token is required")
	}
	if opt.MaxUnits <= 0 {
		opt.MaxUnits = 140
	}
	if opt.SentPages <= 0 {
		opt.SentPages = 2
	}
	if opt.CommentsPerHour <= 0 {
		opt.CommentsPerHour = 60
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	m := newRequestMetrics(opt.Registerer, "replies")
	return &Replier{
		opt: opt,
		api: newOpenClient(opt.HTTPClient, opt.BaseURL, opt.AccessToken, opt.Timeout, opt.Now, m),
		log: opt.Logger,
	}, nil
}

// Channel implements reply.Replier.
func (r *Replier) Channel() model.Channel { return model.ChannelWeibo }

// Rate is the recommended rate of Send calls (the hourly comments quota).
func (r *Replier) Rate() rate.Limit { return rate.Limit(float64(r.opt.CommentsPerHour) / 3600) }

// Burst is the recommended burst of Send calls.
func (r *Replier) Burst() int { return 1 }

// Send posts the reply as a comment on the post. The text is made to fit
// (PrepareComment). Refusals that resending cannot fix come back as
// SendResult{Skipped: true}: the post was deleted (20101), the text was
// refused (too long, empty, filtered) or repeats a comment that is not on
// this post. A repeat-content refusal (20017/20019) for a comment that is on
// this post means an earlier attempt went through: that is a success.
func (r *Replier) Send(ctx context.Context, rep reply.Reply) (reply.SendResult, error) {
	if rep.NativeID == "" {
		return reply.SendResult{}, errors.New("weibo reply without post id")
	}
	text := PrepareComment(rep.Text, r.opt.MaxUnits)
	form := map[string]string{"id": rep.NativeID, "comment": text, "comment_ori": "0"}
	if r.opt.RIP != "" {
		form["rip"] = r.opt.RIP
	}
	body, err := r.api.postForm(ctx, "comments/create", "/2/comments/create.json", form)
	if err == nil {
		c, err := ParseOpenComment(body)
		if err != nil {
			// The comment may well exist; the caller retries after Sent.
			return reply.SendResult{}, fmt.Errorf("weibo comments/create: %w", err)
		}
		r.log.Info("comment sent", "channel", "weibo", "post_id", rep.PostID, "case_no", rep.CaseNo, "comment_id", c.ID)
		return reply.SendResult{RemoteID: c.ID}, nil
	}
	var oe *OpenError
	if !errors.As(err, &oe) {
		return reply.SendResult{}, err
	}
	switch oe.Code {
	case 20017, 20019:
		c, found, ferr := r.find(ctx, rep.NativeID, text)
		if ferr != nil {
			return reply.SendResult{}, fmt.Errorf("weibo repeat content, checking comments: %w", ferr)
		}
		if found {
			return reply.SendResult{RemoteID: c.ID}, nil
		}
		return skipped(rep, r.log, fmt.Sprintf("repeat content (%d)", oe.Code)), nil
	case 20101:
		return skipped(rep, r.log, "post deleted (20101)"), nil
	case 20003, 20008, 20012, 20018, 20020, 20021, 20206, 20207:
		return skipped(rep, r.log, fmt.Sprintf("refused: %s (%d)", oe.Message, oe.Code)), nil
	}
	return reply.SendResult{}, err
}

func skipped(rep reply.Reply, log *slog.Logger, reason string) reply.SendResult {
	log.Warn("comment skipped", "channel", "weibo", "post_id", rep.PostID, "case_no", rep.CaseNo, "reason", reason)
	return reply.SendResult{Skipped: true, Reason: reason}
}

// Sent reports whether the post already carries a comment with the text Send
// would post (by AccountUID when set), reading comments/show newest first.
// A deleted post reports false: Send then skips it.
func (r *Replier) Sent(ctx context.Context, rep reply.Reply) (bool, error) {
	if rep.NativeID == "" {
		return false, nil
	}
	_, found, err := r.find(ctx, rep.NativeID, PrepareComment(rep.Text, r.opt.MaxUnits))
	if errors.Is(err, reply.ErrGone) {
		return false, nil
	}
	return found, err
}

func (r *Replier) find(ctx context.Context, postID, text string) (OpenComment, bool, error) {
	want := strings.TrimSpace(text)
	for page := 1; page <= r.opt.SentPages; page++ {
		body, err := r.api.get(ctx, "comments/show", "/2/comments/show.json", map[string]string{
			"id": postID, "count": "200", "page": strconv.Itoa(page),
		})
		if err != nil {
			return OpenComment{}, false, err
		}
		comments, next, err := ParseOpenComments(body)
		if err != nil {
			return OpenComment{}, false, fmt.Errorf("weibo comments/show: %w", err)
		}
		for _, c := range comments {
			if strings.TrimSpace(c.Text) == want && (r.opt.AccountUID == "" || c.UserID == r.opt.AccountUID) &&
				(c.StatusID == "" || c.StatusID == postID) {
				return c, true, nil
			}
		}
		if len(comments) < 200 || next == 0 {
			break
		}
	}
	return OpenComment{}, false, nil
}

// PrepareComment makes reply text fit for a Weibo comment: hashtag marks are
// removed ("#马上办#" becomes "马上办": comments with topics are refused by
// some SDKs and clients), whitespace runs are collapsed, and text longer than
// maxUnits is cut with "…".
func PrepareComment(s string, maxUnits int) string {
	s = strings.NewReplacer("#", "", "＃", "").Replace(s)
	s = strings.Join(strings.Fields(s), " ")
	if maxUnits <= 0 || reply.WeiboLength(s) <= maxUnits {
		return s
	}
	runes := []rune(s)
	for len(runes) > 0 && reply.WeiboLength(string(runes)+"…") > maxUnits {
		runes = runes[:len(runes)-1]
	}
	return strings.TrimSpace(string(runes)) + "…"
}
