package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// triageRow is a post waiting to be routed, with the classifier's view.
type triageRow struct {
	store.TriageItem
	Post       model.Post
	Reason     string
	Confidence string
	Suggested  string // the suggested lead department's name
	Assist     []string
	Waiting    string // 已等待3小时
	Districts  []model.District
	Top        []scoreRow // the learned model's best labels
}

type scoreRow struct {
	Label string
	Score string
}

type triageData struct {
	Rows        []triageRow
	Departments []model.Department
	Draft       routeDraft
	Routed      string // the case number just made
}

type routeDraft struct {
	PostID, District, Lead, Reason string
	Assist                         []string
}

func (s *server) triage(w http.ResponseWriter, r *http.Request, u *user) {
	q := r.URL.Query()
	d, err := s.loadTriage(r, routeDraft{})
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	v := view{Title: "待分派", Nav: "triage", User: u, CSRF: u.csrf, Data: d}
	if q.Get("ok") == "routed" {
		v.Flash = "已分派，办件编号 " + q.Get("case") + "。"
	}
	s.render(w, r, http.StatusOK, "triage", v)
}

func (s *server) loadTriage(r *http.Request, dr routeDraft) (triageData, error) {
	ctx := r.Context()
	items, err := s.Store.ListTriage(ctx, store.TriageWaiting, 100)
	if err != nil {
		return triageData{}, err
	}
	now := s.Now()
	d := triageData{Draft: dr}
	for _, dep := range s.Dispatcher.Departments() {
		dep.Name = s.DepartmentName(dep.ID)
		d.Departments = append(d.Departments, dep)
	}
	for _, it := range items {
		p, err := s.Store.GetPost(ctx, it.PostID)
		if errors.Is(err, store.ErrNotFound) {
			p = it.Decision.Post
		} else if err != nil {
			return d, err
		}
		row := triageRow{TriageItem: it, Post: p, Reason: triageReason(it.Reason), Confidence: pct(it.Decision.Confidence),
			Waiting: "已等待" + span(max(now.Sub(it.CreatedAt), time.Minute))}
		if l := it.Decision.Lead; l != nil && l.ID != "" {
			row.Suggested = s.DepartmentName(l.ID)
		}
		for _, a := range it.Decision.Assist {
			row.Assist = append(row.Assist, s.DepartmentName(a.ID))
		}
		row.Districts = s.districtChoices(it.Decision.Districts)
		if m := it.Decision.Explanation.Model; m != nil {
			labels := make([]string, 0, len(m.Top))
			for l := range m.Top {
				labels = append(labels, l)
			}
			slices.SortFunc(labels, func(a, b string) int {
				if m.Top[a] != m.Top[b] {
					if m.Top[a] > m.Top[b] {
						return -1
					}
					return 1
				}
				return strings.Compare(a, b)
			})
			for _, l := range labels[:min(len(labels), 3)] {
				row.Top = append(row.Top, scoreRow{Label: s.DepartmentName(l), Score: pct(m.Top[l])})
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

// districtChoices are the districts to route to: the suggested ones first,
// then the others the daemon knows.
func (s *server) districtChoices(suggested []model.District) []model.District {
	out := slices.Clone(suggested)
	if s.Districts != nil {
		for _, d := range s.Districts() {
			if !slices.ContainsFunc(out, func(x model.District) bool { return x.Code == d.Code }) {
				out = append(out, d)
			}
		}
	}
	return out
}

// routeTriage routes one post by hand in one step: district, lead and
// assisting departments, and the reason, all audited by RouteTriage.
func (s *server) routeTriage(w http.ResponseWriter, r *http.Request, u *user) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, u, http.StatusBadRequest, "表单无法读取。")
		return
	}
	dr := routeDraft{PostID: r.PostFormValue("post_id"), District: r.PostFormValue("district"), Lead: r.PostFormValue("lead"),
		Reason: r.PostFormValue("reason"), Assist: r.PostForm["assist"]}
	ctx := r.Context()
	it, err := s.Store.GetTriage(ctx, nil, dr.PostID)
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, u, http.StatusNotFound, "没有这条待分派的反映。")
		return
	}
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	route := dispatch.Route{Lead: dr.Lead, Reason: dr.Reason}
	for _, a := range dr.Assist {
		if a != "" && a != dr.Lead {
			route.Assist = append(route.Assist, a)
		}
	}
	var msg string
	if dr.District != "" {
		i := slices.IndexFunc(s.districtChoices(it.Decision.Districts), func(x model.District) bool { return x.Code == dr.District })
		if i < 0 {
			msg = "请选择列表中的区域。"
		} else {
			route.Districts = []model.District{s.districtChoices(it.Decision.Districts)[i]}
		}
	}
	code := http.StatusBadRequest
	if msg == "" {
		var c model.Case
		c, err = s.Dispatcher.RouteTriage(ctx, u.Actor, dr.PostID, route)
		if err == nil {
			http.Redirect(w, r, Prefix+"triage?ok=routed&case="+url.QueryEscape(c.No), http.StatusSeeOther)
			return
		}
		switch {
		case errors.Is(err, dispatch.ErrInvalid):
			msg = "请选择主办部门并填写分派理由。"
		case errors.Is(err, dispatch.ErrConflict):
			code, msg = http.StatusConflict, "这条反映已由他人分派。"
		default:
			s.internal(w, r, u, err)
			return
		}
	}
	d, lerr := s.loadTriage(r, dr)
	if lerr != nil {
		s.internal(w, r, u, lerr)
		return
	}
	s.render(w, r, code, "triage", view{Title: "待分派", Nav: "triage", User: u, CSRF: u.csrf, Error: msg, Data: d})
}

// deptLine is a department's or district's line on the dashboard.
type deptLine struct {
	store.WorkCount
	Name string
}

// rateLine is a department's on-time rates this week, with its bar chart.
type rateLine struct {
	dispatch.ReportRow
	Claim, Reply, Close float64
	Below               bool
}

type dashboardData struct {
	Work        store.WorkCounts
	Departments []deptLine
	Districts   []deptLine
	Week        string
	Rates       []rateLine
	Total       rateLine
	Chart       chart
}

func (s *server) dashboard(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	now := s.Now()
	work, err := s.Store.CountWork(ctx, now)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	rep, err := dispatch.BuildFeedback(ctx, s.Store, now, now, s.Dispatcher.Location(), s.Dispatcher.Names())
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	d := dashboardData{Work: work,
		Week: fmt.Sprintf("%s 至 %s", rep.WeekStart.Format("1月2日"), rep.WeekEnd.AddDate(0, 0, -1).Format("1月2日"))}
	for _, c := range work.Departments {
		d.Departments = append(d.Departments, deptLine{WorkCount: c, Name: s.DepartmentName(c.Key)})
	}
	for _, c := range work.Districts {
		name := c.Name
		if name == "" {
			name = "未定区域"
		}
		d.Districts = append(d.Districts, deptLine{WorkCount: c, Name: name})
	}
	line := func(x dispatch.ReportRow) rateLine {
		l := rateLine{ReportRow: x, Claim: ratio(x.ClaimedOnTime, x.Received), Reply: ratio(x.RepliedOnTime, x.Received), Close: ratio(x.ClosedInWeek, x.Handled)}
		l.Name = s.DepartmentName(x.Department)
		l.Below = x.Received > 0 && (l.Claim < dispatch.Target || l.Reply < dispatch.Target || l.Close < dispatch.Target)
		return l
	}
	for _, x := range rep.Rows {
		d.Rates = append(d.Rates, line(x))
	}
	d.Total = line(rep.Total)
	d.Chart = rateChart(d.Rates)
	s.render(w, r, http.StatusOK, "dashboard", view{Title: "总览", Nav: "dashboard", User: u, CSRF: u.csrf, Data: d})
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
