package public

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/privacy"
	"github.com/mashangban/mashangban/rules"
	"github.com/mashangban/mashangban/store"
)

// CaseView is what anyone may read about a case: its progress in Chinese,
// departments by name, the citizen's words masked. It is the JSON form of
// the case page and the data of its HTML form.
type CaseView struct {
	CaseNo     string `json:"case_no"`
	Status     string `json:"status"`      // "open" or "closed"
	StatusText string `json:"status_text"` // 待签收, 办理中, 已答复, 已办结
	Urgent     bool   `json:"urgent,omitempty"`
	Category   string `json:"category,omitempty"` // the category's name
	// Districts and Place say where, as the rule set and the gazetteer name
	// them; never the citizen's position.
	Districts []string `json:"districts,omitempty"`
	Place     string   `json:"place,omitempty"`
	Summary   string   `json:"summary"`        // the first report's words, masked
	Lead      string   `json:"lead,omitempty"` // the lead department's name
	Assisting []string `json:"assisting,omitempty"`
	// Reports is how many citizens' reports the case holds (the first one
	// and those merged into it as the same problem).
	Reports    int        `json:"reports"`
	ReceivedAt time.Time  `json:"received_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	// ReplyBy and CloseBy are the lead department's deadlines still ahead
	// of it: the first answer and the close.
	ReplyBy  *time.Time `json:"reply_by,omitempty"`
	CloseBy  *time.Time `json:"close_by,omitempty"`
	Timeline []Step     `json:"timeline"`
}

// Step is one entry of a case's timeline.
type Step struct {
	At time.Time `json:"at"`
	// Kind is one of received, assigned, assisting, claimed, replied,
	// transferred, finished (one department's part is done), closed,
	// reopened, repeat (another citizen reported the same problem),
	// split (a report was found to be another problem).
	Kind       string `json:"kind"`
	Title      string `json:"title"` // 受理, 分派, 签收, 答复, 转办, 办结, ...
	Text       string `json:"text"`
	Department string `json:"department,omitempty"` // name
	To         string `json:"to,omitempty"`         // name, for transfers
	// Reply is the department's answer as the citizens received it
	// (masked): replies and resolutions are sent to every reporter, so
	// they are public; transfer and reopen reasons are internal and never
	// shown.
	Reply string `json:"reply,omitempty"`
	// Count is, for a repeat step, how many reports arrived in a row.
	Count int `json:"count,omitempty"`
}

// Status values of a CaseView (the Open311 ones).
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// unknownDepartment stands for a department the rule set does not name:
// a code is never shown.
const unknownDepartment = "相关部门"

var (
	reCaseNo   = regexp.MustCompile(`^MSB-[0-9]{8}-[0-9]{4,6}$`)
	reTriageNo = regexp.MustCompile(`^T-[0-9]{8}-[0-9]{4,6}$`)
)

// names resolves the rule set's department and category names.
type names struct{ rs *rules.RuleSet }

func (n names) department(id string) string {
	if n.rs != nil && id != "" {
		if d, ok := n.rs.Department(id); ok && d.Name != "" {
			return d.Name
		}
	}
	return unknownDepartment
}

func (n names) category(id string) (name, group string) {
	if n.rs == nil || id == "" {
		return "", ""
	}
	c, ok := n.rs.Category(id)
	if !ok {
		return "", ""
	}
	group = c.Name
	if p, ok := n.rs.Category(c.Parent); ok {
		group = p.Name
	}
	return c.Name, group
}

// placeName is the name in a place key ("compound:东方城二区").
func placeName(key string) string {
	if _, name, ok := strings.Cut(key, ":"); ok {
		return name
	}
	return ""
}

// statusText says in words where a case stands, from its status and its
// lead department's assignment.
func statusText(c model.Case, lead *store.CaseWork) string {
	if c.Status == model.CaseResolved {
		return "已办结"
	}
	if lead == nil {
		return "已受理"
	}
	switch lead.State {
	case model.AssignmentPending:
		return "待签收"
	case model.AssignmentReplied:
		return "已答复"
	}
	return "办理中"
}

// leadWork is the lead department's current assignment: the last lead
// assignment that was not transferred away.
func leadWork(works []store.CaseWork) *store.CaseWork {
	var lead *store.CaseWork
	for i, w := range works {
		if w.Role == model.RoleLead && w.State != model.AssignmentTransferred {
			lead = &works[i]
		}
	}
	return lead
}

// summaryOf builds the parts of a view that Open311 listings need too.
func (s *Server) summaryOf(c store.CaseRow, works []store.CaseWork, n names) CaseView {
	loc := s.opts.Location
	// Times to the second: the public has no use for the store's
	// microseconds.
	at := func(t time.Time) time.Time { return t.In(loc).Truncate(time.Second) }
	v := CaseView{
		CaseNo:     c.No,
		Status:     StatusOpen,
		Urgent:     c.Priority == model.PriorityUrgent,
		Summary:    privacy.MaskPublic(c.Summary),
		Place:      placeName(c.Place),
		Reports:    len(c.PostIDs),
		ReceivedAt: at(c.CreatedAt),
		UpdatedAt:  at(c.UpdatedAt),
		Timeline:   []Step{},
	}
	if c.Status == model.CaseResolved {
		v.Status = StatusClosed
	}
	v.Category, _ = n.category(c.Category)
	for _, d := range c.Districts {
		if d.Name != "" {
			v.Districts = append(v.Districts, d.Name)
		}
	}
	lead := leadWork(works)
	v.StatusText = statusText(c.Case, lead)
	if c.Lead != "" {
		v.Lead = n.department(c.Lead)
	}
	seen := map[string]bool{}
	for _, w := range works {
		if w.Role == model.RoleAssist && w.State != model.AssignmentTransferred && !seen[w.Department] {
			seen[w.Department] = true
			v.Assisting = append(v.Assisting, n.department(w.Department))
		}
	}
	if lead != nil && c.Status != model.CaseResolved {
		if lead.State == model.AssignmentPending || lead.State == model.AssignmentClaimed {
			t := at(lead.ReplyBy)
			v.ReplyBy = &t
		}
		if lead.State != model.AssignmentResolved {
			t := at(lead.CloseBy)
			v.CloseBy = &t
		}
	}
	return v
}

// caseView loads the case numbered no with its timeline, or
// store.ErrNotFound.
func (s *Server) caseView(ctx context.Context, no string) (CaseView, error) {
	page, err := s.st.ListCasesPage(ctx, store.CaseQuery{Numbers: []string{no}, Limit: 1})
	if err != nil {
		return CaseView{}, err
	}
	if len(page.Cases) == 0 {
		return CaseView{}, fmt.Errorf("case %s: %w", no, store.ErrNotFound)
	}
	c := page.Cases[0]
	works, err := s.st.CaseWorks(ctx, []int64{c.ID})
	if err != nil {
		return CaseView{}, err
	}
	evs, err := s.st.ListEvents(ctx, store.EventFilter{CaseID: &c.ID})
	if err != nil {
		return CaseView{}, err
	}
	n := s.names()
	v := s.summaryOf(c, works[c.ID], n)
	v.Timeline = append(v.Timeline, Step{At: v.ReceivedAt, Kind: "received", Title: "受理",
		Text: "已受理，办件编号" + c.No + "。"})
	for _, e := range evs {
		st, ok := publicStep(e, c.No, n)
		if !ok {
			continue
		}
		st.At = e.At.In(s.opts.Location).Truncate(time.Second)
		// A problem many citizens report would bury the progress under
		// one line per report: reports in a row are one step.
		if last := &v.Timeline[len(v.Timeline)-1]; st.Kind == "repeat" && last.Kind == "repeat" {
			last.Count++
			last.Text = fmt.Sprintf("又有%d位市民反映了同一问题，已并入本办件一并办理。", last.Count)
			continue
		}
		if st.Kind == "closed" {
			at := st.At
			v.ClosedAt = &at
		}
		v.Timeline = append(v.Timeline, st)
	}
	if c.Status != model.CaseResolved {
		v.ClosedAt = nil // reopened after a close
	}
	return v, nil
}

// publicStep turns an audit event into a public timeline step. Only the
// kinds listed here are shown: an event kind added later stays internal
// until it is given a public wording. Actors (who clicked), reasons, notes,
// scores and codes are never copied.
func publicStep(e store.Event, caseNo string, n names) (Step, bool) {
	var d struct {
		Department string `json:"department"`
		Role       string `json:"role"`
		Text       string `json:"text"`
		To         string `json:"to"`
		From       string `json:"from"`
		// TransferredFrom is set on the assignment a transfer creates:
		// the transfer step already names the department it went to.
		TransferredFrom int64 `json:"transferred_from"`
	}
	if len(e.Detail) > 0 {
		// A detail that does not decode leaves the fields empty: the step
		// is shown without them rather than the page failing.
		_ = json.Unmarshal(e.Detail, &d)
	}
	dept := n.department(d.Department)
	switch e.Kind {
	case "assignment.created":
		if d.TransferredFrom != 0 {
			return Step{}, false
		}
		if d.Role == string(model.RoleAssist) {
			return Step{Kind: "assisting", Title: "分派", Department: dept, Text: dept + "协同办理。"}, true
		}
		return Step{Kind: "assigned", Title: "分派", Department: dept, Text: "已交由" + dept + "办理。"}, true
	case "assignment.claimed":
		return Step{Kind: "claimed", Title: "签收", Department: dept, Text: dept + "已签收，正在办理。"}, true
	case "assignment.replied":
		return Step{Kind: "replied", Title: "答复", Department: dept, Text: dept + "答复：", Reply: privacy.MaskPublic(d.Text)}, true
	case "assignment.transferred":
		to := n.department(d.To)
		return Step{Kind: "transferred", Title: "转办", Department: dept, To: to, Text: dept + "已将办件转交" + to + "办理。"}, true
	case "assignment.resolved":
		return Step{Kind: "finished", Title: "办结", Department: dept, Text: dept + "已办理完毕：", Reply: privacy.MaskPublic(d.Text)}, true
	case "assignment.reopened":
		return Step{Kind: "reopened", Title: "重新办理", Department: dept, Text: dept + "重新办理此件。"}, true
	case "case.resolved":
		return Step{Kind: "closed", Title: "办结", Text: "各承办单位均已办理完毕，办件办结。"}, true
	case "case.merged":
		return Step{Kind: "repeat", Title: "同一问题的其他反映", Text: "又有一位市民反映了同一问题，已并入本办件一并办理。", Count: 1}, true
	case "case.unmerged":
		if d.To == caseNo {
			return Step{Kind: "split", Title: "单独立案", Text: "经核实，此反映与此前并入的办件并非同一问题，已单独立案办理。"}, true
		}
		return Step{Kind: "split", Title: "拆分", Text: "经核实，一条并入的反映并非同一问题，已另行立案办理。"}, true
	}
	return Step{}, false
}

// normalizeNo reads a case number from a path segment; ok is false when
// it is not one.
func normalizeNo(s string) (no string, ok bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	return s, reCaseNo.MatchString(s)
}

// shorten cuts s to at most n characters, marking the cut with "…".
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
