package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"

	"github.com/mashangban/mashangban/dispatch"
)

type reportData struct {
	Rep      dispatch.Report
	Week     string // the picked date, yyyy-mm-dd (the week's Monday)
	Prev     string
	Next     string
	Period   string
	Office   bool
	Formats  []string
	Exposure []dispatch.ExposureItem
}

// loadReport builds the weekly report of the week picked by the week
// parameter (default: the last full week) as u may read it: the office all
// of it, a department its own feedback line, the total and its own exposed
// cases, as the API does.
func (s *server) loadReport(r *http.Request, u *user) (dispatch.Report, error) {
	loc := s.Dispatcher.Location()
	now := s.Now()
	week := dispatch.LastFullWeek(now, loc)
	if w := r.URL.Query().Get("week"); w != "" {
		t, err := dispatch.ParseWeekDate(w, loc)
		if err != nil {
			return dispatch.Report{}, err
		}
		week = t
	}
	rep, err := dispatch.BuildReport(r.Context(), s.Store, week, now, loc, s.Dispatcher.Names())
	if err != nil {
		return rep, err
	}
	if !u.Office {
		var rows []dispatch.ReportRow
		for _, x := range rep.Rows {
			if x.Department == u.Actor.ID {
				rows = append(rows, x)
			}
		}
		var exposed []dispatch.ExposureItem
		for _, e := range rep.Exposure {
			if e.Department == u.Actor.ID {
				exposed = append(exposed, e)
			}
		}
		rep.Rows, rep.Exposure = rows, exposed
	}
	return rep, nil
}

func (s *server) report(w http.ResponseWriter, r *http.Request, u *user) {
	rep, err := s.loadReport(r, u)
	if errors.Is(err, dispatch.ErrInvalid) {
		s.errorPage(w, r, u, http.StatusBadRequest, "周次日期无法识别，请选择一个日期，例如 2026-11-26。")
		return
	}
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	loc := s.Dispatcher.Location()
	day := "2006-01-02"
	mon := rep.WeekStart.In(loc)
	d := reportData{Rep: rep, Week: mon.Format(day), Prev: mon.AddDate(0, 0, -7).Format(day), Office: u.Office,
		Period:  mon.Format("2006年1月2日") + " 至 " + rep.WeekEnd.In(loc).AddDate(0, 0, -1).Format("1月2日"),
		Formats: []string{"html", "md", "csv"}, Exposure: rep.Exposure}
	if next := mon.AddDate(0, 0, 7); !next.After(s.Now()) {
		d.Next = next.Format(day)
	}
	s.render(w, r, http.StatusOK, "report", view{Title: "周报", Nav: "report", User: u, CSRF: u.csrf, Data: d})
}

// styleBlock finds the weekly report page's one style sheet.
var styleBlock = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// reportFile answers the report as a download (md, csv) or as the
// self-contained page (html). That page carries its own style sheet inline,
// so it is served with a policy that allows exactly that sheet, by its
// hash, and still no script.
func (s *server) reportFile(w http.ResponseWriter, r *http.Request, u *user) {
	rep, err := s.loadReport(r, u)
	if errors.Is(err, dispatch.ErrInvalid) {
		s.errorPage(w, r, u, http.StatusBadRequest, "周次日期无法识别，请选择一个日期，例如 2026-11-26。")
		return
	}
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	format := r.PathValue("format")
	write, ctype, disposition := rep.WriteMarkdown, "text/markdown", "attachment"
	switch format {
	case "md":
	case "csv":
		write, ctype = rep.WriteCSV, "text/csv"
	case "html":
		write, ctype, disposition = rep.WriteHTML, "text/html", "inline"
	default:
		s.errorPage(w, r, u, http.StatusNotFound, "没有这种格式，可下载 html、md 或 csv。")
		return
	}
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		s.internal(w, r, u, err)
		return
	}
	h := w.Header()
	if format == "html" {
		csp := "default-src 'none'; img-src data:; form-action 'none'; frame-ancestors 'none'"
		for _, m := range styleBlock.FindAllSubmatch(buf.Bytes(), -1) {
			sum := sha256.Sum256(m[1])
			csp += "; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
			break // one sheet; a second would not be allowed
		}
		h.Set("Content-Security-Policy", csp)
	}
	h.Set("Content-Type", ctype+"; charset=utf-8")
	h.Set("Content-Disposition", disposition+`; filename="`+dispatch.ReportFileName(rep.WeekStart, format)+`"`)
	h.Set("Cache-Control", "no-store")
	buf.WriteTo(w) //nolint:errcheck // the client went away
}
