package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// inboxRow is one line of work in an inbox.
type inboxRow struct {
	store.InboxItem
	Step       string // what the deadline is for: 签收, 答复, 办结
	Left       string // 剩余3小时, 已超时2天
	Colour     string // red, orange, yellow, overdue, soon, ok
	ColourName string
}

type inboxData struct {
	Rows []inboxRow
	Form inboxForm
	// Choices of the filter form.
	Departments []model.Department
	Districts   []model.District
	States      []stateChoice
	Filter      string // the filters in words, for the office
	Limit       int
	Office      bool
	Filtered    bool
}

// inboxForm is the inbox's filter form as filled in.
type inboxForm struct {
	Text, State, District, Department string
	Overdue, Carded                   bool
}

type stateChoice struct {
	Value model.AssignmentState
	Name  string
}

// maxSearch bounds the inbox's search text.
const maxSearch = 100

func (s *server) inbox(w http.ResponseWriter, r *http.Request, u *user) {
	q := r.URL.Query()
	now := s.Now()
	f := store.InboxFilter{Department: u.Actor.ID, Limit: 200}
	form := inboxForm{Text: strings.TrimSpace(q.Get("q")), State: q.Get("state"), District: q.Get("district"),
		Overdue: q.Get("overdue") == "1", Carded: q.Get("carded") == "1"}
	var words []string
	if form.Text != "" {
		if utf8.RuneCountInString(form.Text) > maxSearch || !utf8.ValidString(form.Text) {
			s.errorPage(w, r, u, http.StatusBadRequest, "搜索内容不能超过100字。")
			return
		}
		f.Text = form.Text
		words = append(words, "含“"+form.Text+"”")
	}
	if form.State != "" {
		st := model.AssignmentState(form.State)
		if !slices.Contains(store.ActiveStates, st) {
			s.errorPage(w, r, u, http.StatusBadRequest, "没有这个办理状态。")
			return
		}
		f.State = st
		words = append(words, stateName(st))
	}
	if u.Office {
		f.Department = q.Get("department")
		form.Department = f.Department
		if f.Department != "" {
			words = append(words, s.DepartmentName(f.Department))
		}
	}
	f.District = q.Get("district")
	if q.Get("overdue") == "1" {
		f.OverdueAt = now
		words = append(words, "已超时")
	}
	if q.Get("carded") == "1" {
		f.Carded = true
		words = append(words, "已亮牌")
	}
	items, err := s.Store.Inbox(r.Context(), f)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	if f.District != "" {
		words = append(words, s.districtName(f.District, items))
	}
	d := inboxData{Limit: f.Limit, Office: u.Office, Filter: strings.Join(words, " · "), Filtered: len(words) > 0, Form: form,
		Districts: s.districtChoices(nil)}
	for _, st := range store.ActiveStates {
		d.States = append(d.States, stateChoice{Value: st, Name: stateName(st)})
	}
	if u.Office {
		for _, dep := range s.Dispatcher.Departments() {
			dep.Name = s.DepartmentName(dep.ID)
			d.Departments = append(d.Departments, dep)
		}
	}
	for _, it := range items {
		c := colour(it.Cards, it.Due, now)
		d.Rows = append(d.Rows, inboxRow{InboxItem: it, Step: stepName(it.State), Left: timeLeft(it.Due, now), Colour: c, ColourName: cardNames[c]})
	}
	title := "本部门待办"
	if u.Office {
		title = "在办事项"
	}
	s.render(w, r, http.StatusOK, "inbox", view{Title: title, Nav: "inbox", User: u, CSRF: u.csrf, Flash: flash(q.Get("ok")), Data: d})
}

// districtName names a district code from the known districts or the
// listed cases.
func (s *server) districtName(code string, items []store.InboxItem) string {
	for _, d := range s.districtChoices(nil) {
		if d.Code == code {
			return d.Name
		}
	}
	for _, it := range items {
		for _, d := range it.Districts {
			if d.Code == code {
				return d.Name
			}
		}
	}
	return "区域" + code
}

var flashes = map[string]string{
	"claim":    "已签收。",
	"reply":    "答复已发送给反映问题的市民。",
	"resolve":  "已办结，办结答复已发送给市民。",
	"transfer": "已转交。",
	"routed":   "已分派。",
	"assist":   "已请求协办，协办部门会收到分派。",
	"unmerged": "已撤销合并，这是为该条反映新立的办件，已告知市民新编号。",
}

func flash(key string) string { return flashes[key] }

// assignmentRow is an assignment on the case page with what the viewer may do.
type assignmentRow struct {
	store.Assignment
	Active                 bool
	Step, Left, Colour     string
	ColourName             string
	CanClaim, CanReply     bool
	CanResolve, CanForward bool
}

type postRow struct {
	model.Post
	Repeat bool
	Found  bool // the post itself is in the store
}

type timelineRow struct {
	At    time.Time
	Who   string
	What  string
	Words string // a reply or reason in the actor's own words
}

// draft is what a failed action's form held, shown again so that nothing
// typed is lost.
type draft struct {
	Assignment int64
	Action     string
	Text       string
	Phrase     string
	To         string
	Reason     string
	PostID     string // unmerge
}

type caseData struct {
	Case        model.Case
	Lead        string
	Assignments []assignmentRow
	Posts       []postRow
	Confidence  string
	Explanation *model.Explanation
	Routed      []timelineRow // hand routings with their reasons
	Timeline    []timelineRow
	Departments []model.Department
	Draft       draft
	Phrases     []string
	CanUnmerge  bool
	SplitFrom   *timelineRow // the undone merge this case was made by
}

var errNotYours = errors.New("case of another department")

// loadCase reads a case as u may see it: the office sees every case, a
// department the cases it holds or held an assignment of.
func (s *server) loadCase(ctx context.Context, no string, u *user) (caseData, error) {
	var d caseData
	c, err := s.Store.GetCaseByNo(ctx, nil, no)
	if err != nil {
		return d, err
	}
	as, err := s.Store.ListAssignments(ctx, nil, store.AssignmentFilter{CaseID: c.ID, Limit: 1000})
	if err != nil {
		return d, err
	}
	if !u.Office && !slices.ContainsFunc(as, func(a store.Assignment) bool { return a.Department == u.Actor.ID }) {
		return d, errNotYours
	}
	now := s.Now()
	d.Case, d.Lead, d.Phrases = c, s.DepartmentName(c.Lead), phrases
	d.CanUnmerge = u.Office || c.Lead == u.Actor.ID
	for _, a := range as {
		row := assignmentRow{Assignment: a, Active: slices.Contains(store.ActiveStates, a.State)}
		mine := u.Office || a.Department == u.Actor.ID
		if row.Active {
			due := a.ClaimBy
			switch a.State {
			case model.AssignmentClaimed:
				due = a.ReplyBy
			case model.AssignmentReplied:
				due = a.CloseBy
			}
			row.Step, row.Left, row.Colour = stepName(a.State), timeLeft(due, now), colour(a.Cards, due, now)
			row.ColourName = cardNames[row.Colour]
			row.CanClaim = mine && a.State == model.AssignmentPending
			row.CanReply = mine && a.State != model.AssignmentPending
			row.CanResolve = row.CanReply
			row.CanForward = mine
		}
		d.Assignments = append(d.Assignments, row)
	}
	cps, err := s.Store.CasePosts(ctx, nil, c.ID)
	if err != nil {
		return d, err
	}
	for _, cp := range cps {
		p, err := s.Store.GetPost(ctx, cp.PostID)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return d, err
		}
		if !found {
			p = model.Post{ID: cp.PostID}
		}
		d.Posts = append(d.Posts, postRow{Post: p, Repeat: cp.Role == store.CasePostRepeat, Found: found})
	}
	evs, err := s.Store.ListEvents(ctx, store.EventFilter{CaseID: &c.ID})
	if err != nil {
		return d, err
	}
	for _, e := range evs {
		var det map[string]any
		_ = json.Unmarshal(e.Detail, &det)
		if e.Kind == "case.created" {
			if v, ok := det["confidence"].(float64); ok {
				d.Confidence = pct(v)
			}
			if raw, ok := det["explanation"]; ok {
				b, _ := json.Marshal(raw)
				var ex model.Explanation
				if json.Unmarshal(b, &ex) == nil {
					d.Explanation = &ex
				}
			}
		}
		row := s.timeline(e, det)
		if e.Kind == "triage.routed" {
			d.Routed = append(d.Routed, row)
		}
		if to, _ := det["to"].(string); e.Kind == "case.unmerged" && to == c.No {
			from, _ := det["from"].(string)
			d.SplitFrom = &timelineRow{At: e.At, Who: row.Who, What: from, Words: row.Words}
		}
		d.Timeline = append(d.Timeline, row)
	}
	for _, dep := range s.Dispatcher.Departments() {
		dep.Name = s.DepartmentName(dep.ID)
		d.Departments = append(d.Departments, dep)
	}
	return d, nil
}

// timeline turns an audit event into a line a clerk reads.
func (s *server) timeline(e store.Event, det map[string]any) timelineRow {
	str := func(k string) string { v, _ := det[k].(string); return v }
	who := s.actorName(e.Actor)
	dept := s.DepartmentName(str("department"))
	row := timelineRow{At: e.At, Who: who}
	switch e.Kind {
	case "case.created":
		row.What = "立案，主办：" + s.DepartmentName(str("lead"))
	case "case.merged":
		row.What = "合并了一条重复反映（" + e.PostID + "）"
	case "case.unmerged":
		row.What, row.Words = "撤销合并："+str("from")+" → "+str("to"), str("reason")
	case "case.resolved":
		row.What = "全部办结"
	case "assignment.created":
		role := "协办"
		if str("role") == string(model.RoleLead) {
			role = "主办"
		}
		row.What = "分派给" + dept + "（" + role + "）"
	case "assignment.claimed":
		row.What = dept + "签收"
	case "assignment.replied":
		row.What, row.Words = dept+"答复", str("text")
	case "assignment.resolved":
		row.What, row.Words = dept+"办结", str("text")
	case "assignment.assist_requested":
		row.What, row.Words = dept+"请"+s.DepartmentName(str("to"))+"协办", str("reason")
	case "assignment.transferred":
		row.What, row.Words = dept+"转交"+s.DepartmentName(str("to")), str("reason")
	case "assignment.reopened":
		row.What, row.Words = dept+"重新办理", str("reason")
	case "triage.routed":
		row.What, row.Words = "人工分派，主办："+s.DepartmentName(str("lead")), str("reason")
	case "card.yellow", "card.orange", "card.red":
		row.What = dept + "被亮" + cardNames[strings.TrimPrefix(e.Kind, "card.")] + "（" + map[string]string{"card.yellow": "超时未签收", "card.orange": "超时未答复", "card.red": "超时未办结"}[e.Kind] + "）"
	case "reminder.claim", "reminder.reply", "reminder.close":
		row.What = "提醒" + dept + "：" + map[string]string{"reminder.claim": "签收", "reminder.reply": "答复", "reminder.close": "办结"}[e.Kind] + "期限将到"
	default:
		row.What = e.Kind
	}
	if row.Who == dept && strings.HasPrefix(row.What, dept) {
		row.Who = "" // "市城市管理局 市城市管理局签收" says it twice
	}
	return row
}

func (s *server) actorName(id string) string {
	switch id {
	case "", "system":
		return "系统"
	case "sender":
		return "回复发送"
	}
	if n := s.DepartmentName(id); n != id {
		return n
	}
	return "市马上办（" + id + "）"
}

func (s *server) casePage(w http.ResponseWriter, r *http.Request, u *user) {
	d, err := s.loadCase(r.Context(), r.PathValue("no"), u)
	if s.caseError(w, r, u, err) {
		return
	}
	s.render(w, r, http.StatusOK, "case", view{Title: "办件 " + d.Case.No, Nav: "inbox", User: u, CSRF: u.csrf, Flash: flash(r.URL.Query().Get("ok")), Data: d})
}

// caseError answers for a case that cannot be shown. Another department's
// case looks exactly like a missing one, so that numbers cannot be probed.
func (s *server) caseError(w http.ResponseWriter, r *http.Request, u *user, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, errNotYours), errors.Is(err, store.ErrNotFound), errors.Is(err, dispatch.ErrForbidden):
		s.errorPage(w, r, u, http.StatusNotFound, "没有找到这个办件，或它不属于本部门。")
	default:
		s.internal(w, r, u, err)
	}
	return true
}

// act runs a clerk's action on an assignment and goes back to the case
// (post, redirect, get); a refused action shows the case again with the
// reason and the form as it was filled in.
func (s *server) act(w http.ResponseWriter, r *http.Request, u *user) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.errorPage(w, r, u, http.StatusNotFound, "没有这个分派。")
		return
	}
	ctx := r.Context()
	a, err := s.Store.GetAssignment(ctx, nil, id)
	if err == nil && !u.Office && a.Department != u.Actor.ID {
		err = errNotYours
	}
	if s.caseError(w, r, u, err) {
		return
	}
	action := r.PathValue("action")
	dr := draft{Assignment: id, Action: action, Text: r.PostFormValue("text"), Phrase: r.PostFormValue("phrase"), To: r.PostFormValue("to"), Reason: r.PostFormValue("reason")}
	text, ok := withPhrase(dr.Phrase, dr.Text)
	if !ok {
		err = dispatch.ErrInvalid
	}
	switch {
	case !ok:
	case action == "claim":
		_, err = s.Dispatcher.Claim(ctx, u.Actor, id)
	case action == "reply":
		_, err = s.Dispatcher.Reply(ctx, u.Actor, id, text)
	case action == "resolve":
		_, err = s.Dispatcher.Resolve(ctx, u.Actor, id, text)
	case action == "assist":
		_, err = s.Dispatcher.RequestAssist(ctx, u.Actor, id, dr.To, dr.Reason)
	case action == "transfer":
		_, err = s.Dispatcher.Transfer(ctx, u.Actor, id, dr.To, dr.Reason)
	default:
		s.errorPage(w, r, u, http.StatusNotFound, "没有这个操作。")
		return
	}
	if err == nil {
		http.Redirect(w, r, Prefix+"cases/"+url.PathEscape(a.CaseNo)+"?ok="+action+"#a"+strconv.FormatInt(id, 10), http.StatusSeeOther)
		return
	}
	code, msg := refusal(action, err)
	if code == http.StatusInternalServerError {
		s.internal(w, r, u, err)
		return
	}
	if code == http.StatusNotFound {
		s.caseError(w, r, u, err)
		return
	}
	d, lerr := s.loadCase(ctx, a.CaseNo, u)
	if s.caseError(w, r, u, lerr) {
		return
	}
	d.Draft = dr
	s.render(w, r, code, "case", view{Title: "办件 " + d.Case.No, Nav: "inbox", User: u, CSRF: u.csrf, Error: msg, Data: d})
}

// refusal is the status and the words for an action the dispatcher refused.
func refusal(action string, err error) (int, string) {
	switch {
	case errors.Is(err, dispatch.ErrInvalid):
		switch action {
		case "reply":
			return http.StatusBadRequest, "请填写答复内容。"
		case "transfer":
			return http.StatusBadRequest, "转交需要选择接收部门并填写理由（不能转给本部门）。"
		case "assist":
			return http.StatusBadRequest, "请求协办需要选择协办部门并填写理由（不能请本部门）。"
		}
		return http.StatusBadRequest, "填写的内容不完整。"
	case errors.Is(err, dispatch.ErrConflict):
		switch action {
		case "claim":
			return http.StatusConflict, "该分派已不是待签收状态，可能已被签收。"
		case "transfer":
			return http.StatusConflict, "无法转交：接收部门已在办理此办件，或该分派已结束。"
		case "assist":
			return http.StatusConflict, "无法请求协办：该部门已在办理此办件，或本分派已结束。"
		}
		return http.StatusConflict, "该分派的状态已变化（需先签收，或已办结），请查看最新进展。"
	case errors.Is(err, dispatch.ErrForbidden), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, ""
	}
	return http.StatusInternalServerError, ""
}
