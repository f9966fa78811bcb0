package dispatch

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/notify"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
)

// Notices to departments: a new assignment (also by transfer), an
// assisting department made the lead, and every reminder and card the
// deadline clock issues go to the department's webhook when it has one
// (Options.Notify). Each is queued in the outbox in the transaction that
// causes it, under a key of its own (one notice per assignment, kind and
// deadline), on the department's own channel "notify:<department>", so a
// robot's rate limit pauses only that department's notices. Delivery is
// at most once: a notice whose fate is unknown (an answer lost, a crash
// mid-call) is marked failed, never sent again; one the webhook certainly
// did not take (rate limit, busy, refused connection) is retried with
// backoff.

// Notice kinds besides the clock's (store.NoticeRemind*, store.NoticeYellow…).
const (
	NoticeAssigned = "assigned" // a new assignment, also one received by transfer
	NoticeLead     = "lead"     // an assisting department made the lead by a transfer
)

const noticeChannelPrefix = "notify:"

func noticeChannel(dept string) model.Channel { return model.Channel(noticeChannelPrefix + dept) }

// Notifiers returns the repliers that deliver notices, one per department
// with a webhook, for RunSender and SendDue.
func (d *Dispatcher) Notifiers() map[model.Channel]reply.Replier {
	out := map[model.Channel]reply.Replier{}
	for dept, t := range d.opts.Notify {
		out[noticeChannel(dept)] = noticeReplier{dept: dept, target: t, client: notify.Client{HTTP: d.opts.NotifyHTTP}}
	}
	return out
}

// queueNotice queues, in tx, the notice of kind about assignment a and
// deadline for a's department, if the department has a webhook. extra is
// added to the text (the citizen's words, a transfer's reason).
func (d *Dispatcher) queueNotice(ctx context.Context, tx store.Tx, a store.Assignment, kind string, deadline time.Time, extra string, now time.Time) error {
	if _, ok := d.opts.Notify[a.Department]; !ok {
		return nil
	}
	name := d.deptName(a.Department, nil)
	title, text := d.noticeText(kind, a, name, deadline, extra)
	f := map[string]string{
		"kind": kind, "case_no": a.CaseNo, "case_id": strconv.FormatInt(a.CaseID, 10),
		"assignment_id": strconv.FormatInt(a.ID, 10), "department": a.Department, "department_name": name,
		"role": string(a.Role), "deadline": deadline.UTC().Format(time.RFC3339), "title": title,
	}
	if isCard(kind) {
		f["card"] = kind
	}
	if d.opts.CaseURL != "" {
		f["url"] = strings.ReplaceAll(d.opts.CaseURL, "{case_no}", a.CaseNo)
	}
	key := fmt.Sprintf("notice:%d:%s:%d", a.ID, kind, deadline.UnixMicro())
	_, err := d.st.Enqueue(ctx, tx, store.OutboxItem{PostID: key, Kind: store.OutboxNotice, Channel: string(noticeChannel(a.Department)),
		NativeID: a.Department, CaseNo: a.CaseNo, Text: text, Fields: f, CreatedAt: now})
	return err
}

func isCard(kind string) bool {
	return kind == store.NoticeYellow || kind == store.NoticeOrange || kind == store.NoticeRed
}

// noticeText is a notice's heading and text, in Chinese, naming the
// department by name.
func (d *Dispatcher) noticeText(kind string, a store.Assignment, name string, deadline time.Time, extra string) (title, text string) {
	at := deadline.In(d.opts.Location).Format("1月2日15:04")
	role := "牵头办理"
	if a.Role == model.RoleAssist {
		role = "协办"
	}
	switch kind {
	case NoticeAssigned:
		title, text = "新办件", fmt.Sprintf("%s：办件%s由贵单位%s，请于%s前签收。", name, a.CaseNo, role, at)
	case NoticeLead:
		title, text = "转为牵头", fmt.Sprintf("%s：办件%s转由贵单位牵头办理，请于%s前答复市民。", name, a.CaseNo, at)
	case store.NoticeRemindClaim:
		title, text = "签收提醒", fmt.Sprintf("%s：办件%s尚未签收，请于%s前签收。", name, a.CaseNo, at)
	case store.NoticeRemindReply:
		title, text = "答复提醒", fmt.Sprintf("%s：办件%s尚未答复，请于%s前答复。", name, a.CaseNo, at)
	case store.NoticeRemindClose:
		title, text = "办结提醒", fmt.Sprintf("%s：办件%s尚未办结，请于%s前办结。", name, a.CaseNo, at)
	case store.NoticeYellow:
		title, text = "黄牌警示", fmt.Sprintf("%s：办件%s未在%s前签收，亮黄牌。", name, a.CaseNo, at)
	case store.NoticeOrange:
		title, text = "橙牌警示", fmt.Sprintf("%s：办件%s未在%s前答复，亮橙牌。", name, a.CaseNo, at)
	case store.NoticeRed:
		title, text = "红牌警示", fmt.Sprintf("%s：办件%s未在%s前办结，亮红牌。", name, a.CaseNo, at)
	default:
		title, text = "办件通知", fmt.Sprintf("%s：办件%s，时限%s。", name, a.CaseNo, at)
	}
	if extra != "" {
		text += extra
	}
	return "【马上办】" + title, text
}

// noticeReplier delivers one department's notices to its webhook.
type noticeReplier struct {
	dept   string
	target notify.Target
	client notify.Client
}

func (n noticeReplier) Channel() model.Channel { return noticeChannel(n.dept) }

func (n noticeReplier) Send(ctx context.Context, r reply.Reply) (reply.SendResult, error) {
	f := r.Fields
	m := notify.Message{Kind: f["kind"], CaseNo: r.CaseNo, Department: notify.Department{ID: f["department"], Name: f["department_name"]},
		Role: f["role"], Card: f["card"], Title: f["title"], Text: r.Text, URL: f["url"], Key: r.PostID}
	if t, err := time.Parse(time.RFC3339, f["deadline"]); err == nil {
		m.Deadline = &t
	}
	if err := n.client.Send(ctx, n.target, m); err != nil {
		return reply.SendResult{}, err
	}
	return reply.SendResult{}, nil
}

// Sent implements reply.Replier: a webhook cannot tell.
func (noticeReplier) Sent(context.Context, reply.Reply) (bool, error) { return false, nil }

// Rate and Burst keep to a WeCom robot's 20 messages a minute.
func (noticeReplier) Rate() rate.Limit { return rate.Every(3 * time.Second) }

// Burst implements the rate hint.
func (noticeReplier) Burst() int { return 1 }

// atMostOnce marks the notice repliers: never resend what may have arrived.
func (noticeReplier) atMostOnce() {}

type atMostOnce interface{ atMostOnce() }
