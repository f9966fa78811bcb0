package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mashangban/mashangban/dispatch"
	"github.com/mashangban/mashangban/store"
)

// phrases are the common words of a department's reply or closing note,
// offered on the case page; the clerk's own words follow the chosen one.
var phrases = []string{
	"您反映的问题已收到，我们正安排工作人员到现场核实，请耐心等待。",
	"经现场核实，您反映的问题属实，已安排维修，预计三个工作日内处理完毕。",
	"工作人员已到现场处理，问题已解决，感谢您的监督。",
	"您反映的问题涉及多个部门，我们已协调相关部门共同处理。",
	"为便于尽快处理，请补充具体位置（小区、楼栋或附近的标志物）。",
}

// withPhrase is the text of a reply: the chosen common phrase (an index
// into phrases, or empty), then the clerk's own words.
func withPhrase(idx, text string) (string, bool) {
	text = strings.TrimSpace(text)
	if idx == "" {
		return text, true
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(phrases) {
		return text, false
	}
	if text == "" {
		return phrases[i], true
	}
	return phrases[i] + text, true
}

// unmerge undoes a merge: the repeat post becomes its own case (Unmerge
// checks that the viewer is the office or the case's lead department and
// audits it); the page goes on to the new case.
func (s *server) unmerge(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	no := r.PathValue("no")
	d, err := s.loadCase(ctx, no, u)
	if s.caseError(w, r, u, err) {
		return
	}
	postID, reason := r.PostFormValue("post_id"), r.PostFormValue("reason")
	in := false
	for _, p := range d.Posts {
		in = in || p.ID == postID
	}
	var msg string
	code := http.StatusBadRequest
	switch {
	case !in:
		msg = "这条反映不在本办件中。"
	case !d.CanUnmerge:
		code, msg = http.StatusForbidden, "只有主办部门或市马上办可以撤销合并。"
	default:
		c, err := s.Dispatcher.Unmerge(ctx, u.Actor, postID, reason)
		if err == nil {
			http.Redirect(w, r, Prefix+"cases/"+url.PathEscape(c.No)+"?ok=unmerged", http.StatusSeeOther)
			return
		}
		switch {
		case errors.Is(err, dispatch.ErrInvalid):
			msg = "撤销合并需要填写理由。"
		case errors.Is(err, dispatch.ErrConflict):
			code, msg = http.StatusConflict, "这条反映是本办件的首次反映，或已被撤销合并。"
		case errors.Is(err, dispatch.ErrForbidden):
			code, msg = http.StatusForbidden, "只有主办部门或市马上办可以撤销合并。"
		case errors.Is(err, store.ErrNotFound):
			s.caseError(w, r, u, err)
			return
		default:
			s.internal(w, r, u, err)
			return
		}
	}
	d.Draft = draft{Action: "unmerge", PostID: postID, Reason: reason}
	s.render(w, r, code, "case", view{Title: "办件 " + d.Case.No, Nav: "inbox", User: u, CSRF: u.csrf, Error: msg, Data: d})
}
