package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
)

// timeLeft says in Chinese how long until a deadline, or how long past it:
// "剩余3小时", "剩余2天5小时", "已超时2天". Under an hour counts minutes;
// from two days on, whole days only.
func timeLeft(due, now time.Time) string {
	d := due.Sub(now)
	prefix := "剩余"
	if d < 0 {
		prefix, d = "已超时", -d
	}
	return prefix + span(d)
}

func span(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	switch {
	case days >= 2:
		return fmt.Sprintf("%d天", days)
	case days == 1 && hours > 0:
		return fmt.Sprintf("1天%d小时", hours)
	case days == 1:
		return "1天"
	case hours > 0:
		return fmt.Sprintf("%d小时", hours)
	}
	return fmt.Sprintf("%d分钟", max(int(d/time.Minute), 1))
}

// stepName is the step an active assignment's current deadline is for.
func stepName(s model.AssignmentState) string {
	switch s {
	case model.AssignmentPending:
		return "签收"
	case model.AssignmentClaimed:
		return "答复"
	}
	return "办结"
}

func stateName(s model.AssignmentState) string {
	switch s {
	case model.AssignmentPending:
		return "待签收"
	case model.AssignmentClaimed:
		return "已签收"
	case model.AssignmentReplied:
		return "已答复"
	case model.AssignmentResolved:
		return "已办结"
	case model.AssignmentTransferred:
		return "已转办"
	}
	return string(s)
}

func roleName(r model.Role) string {
	if r == model.RoleLead {
		return "主办"
	}
	return "协办"
}

func districtNames(ds []model.District) string {
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		names = append(names, d.Name)
	}
	if len(names) == 0 {
		return "未定区域"
	}
	return strings.Join(names, "、")
}

// colour is the card colour of an active assignment: the most serious card
// it was given, else "overdue" past its deadline, "soon" within 4 hours of
// it, "ok" otherwise.
func colour(cards []model.Card, due, now time.Time) string {
	rank := map[model.Card]int{model.CardYellow: 1, model.CardOrange: 2, model.CardRed: 3}
	best := model.Card("")
	for _, c := range cards {
		if rank[c] > rank[best] {
			best = c
		}
	}
	switch {
	case best != "":
		return string(best)
	case due.Before(now):
		return "overdue"
	case due.Sub(now) < 4*time.Hour:
		return "soon"
	}
	return "ok"
}

var cardNames = map[string]string{"red": "红牌", "orange": "橙牌", "yellow": "黄牌", "overdue": "已超时", "soon": "即将到期", "ok": "正常"}

func pct(r float64) string { return fmt.Sprintf("%.1f%%", r*100) }

// triageReasons are the classifier's reasons for triage, as the office reads them.
var triageReasons = map[string]string{
	"empty post":                                    "内容为空",
	"invalid utf-8 replaced":                        "含无法识别的字符",
	"post too long, cut":                            "内容过长，已截断",
	"no route matched":                              "没有匹配的分派规则",
	"model confidence below threshold":              "模型把握不足",
	"district unknown":                              "无法确定所属区域",
	"model label maps to no category or department": "模型结果无对应部门",
	"no lead department":                            "没有主办部门",
}

// triageReason translates each "; "-separated reason it knows, keeping the
// data a reason carries after its known prefix.
func triageReason(s string) string {
	var out []string
	for _, part := range strings.Split(s, "; ") {
		t := part
		for en, zh := range triageReasons {
			if rest, ok := strings.CutPrefix(part, en); ok {
				t = zh + rest
				break
			}
		}
		out = append(out, t)
	}
	return strings.Join(out, "；")
}

// channelName is how a clerk knows where a post came from.
func channelName(c model.Channel) string {
	switch c {
	case model.ChannelWeibo:
		return "微博"
	case model.ChannelWeChat:
		return "微信小程序"
	case model.ChannelReplay:
		return "导入文件"
	}
	return "其他渠道"
}
