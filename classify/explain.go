package classify

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/mashangban/mashangban/model"
)

// WriteExplain prints a trace and its decision for people: the words, the
// places, every route and why it matched or not, the model's scores and the
// final decision. The format is stable enough for golden tests, not for
// parsing.
func WriteExplain(w io.Writer, d model.Decision, tr *Trace) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rule set:  %s\n", d.RuleSetVersion)
	fmt.Fprintf(&b, "text:      %s\n", tr.Text)
	for _, n := range tr.Notes {
		fmt.Fprintf(&b, "note:      %s\n", n)
	}
	fmt.Fprintf(&b, "words:     %s\n", strings.Join(tr.Tokens, " | "))
	if len(tr.Places) == 0 {
		b.WriteString("places:    (none)\n")
	}
	for i, p := range tr.Places {
		label := "places:   "
		if i > 0 {
			label = "          "
		}
		what := p.Kind
		if p.Code != "" {
			what += " " + p.Code
		}
		if p.District != "" {
			what += ", district " + p.District
		} else {
			what += ", no single district"
		}
		fmt.Fprintf(&b, "%s %s (%s)\n", label, p.Text, what)
	}
	var ds []string
	for _, dist := range tr.Districts {
		ds = append(ds, dist.Name+" "+dist.Code)
	}
	if len(ds) == 0 {
		ds = []string{"unknown"}
	}
	fmt.Fprintf(&b, "districts: %s (by %s)\n", strings.Join(ds, "、"), tr.DistrictBy)
	b.WriteString("routes:\n")
	nameWidth := 0
	for _, r := range tr.Routes {
		nameWidth = max(nameWidth, DisplayWidth(r.Name))
	}
	for _, r := range tr.Routes {
		mark := "-"
		switch {
		case r.Matched:
			mark = "+"
		case !r.Tried:
			mark = " "
		}
		why := r.Why
		if why == "" && !r.Tried {
			why = "not tried"
		}
		pad := strings.Repeat(" ", nameWidth-DisplayWidth(r.Name)+2)
		fmt.Fprintf(&b, "  %s %s%s%s\n", mark, r.Name, pad, why)
	}
	if tr.Overridden != "" {
		fmt.Fprintf(&b, "overruled: route %s, by the model (confidence at least %.2f, another category group)\n", tr.Overridden, tr.Model.Override)
	}
	if tr.Model == nil {
		b.WriteString("model:     not consulted\n")
	} else {
		m := tr.Model
		fmt.Fprintf(&b, "model:     %s %.3f (threshold %.2f, %s)", m.Label, m.Score, m.Threshold, m.Version)
		if m.Used {
			b.WriteString(" used\n")
		} else {
			b.WriteString(" not used\n")
		}
		for i, s := range m.Scores {
			if i == 5 {
				break
			}
			fmt.Fprintf(&b, "           %-12s %.3f\n", s.Label, s.Prob)
		}
	}
	b.WriteString("decision:\n")
	lead := "(none)"
	if d.Lead != nil {
		lead = d.Lead.Name + " [" + d.Lead.ID + "]"
	}
	fmt.Fprintf(&b, "  lead:       %s\n", lead)
	var as []string
	for _, a := range d.Assist {
		as = append(as, a.Name+" ["+a.ID+"]")
	}
	if len(as) == 0 {
		as = []string{"(none)"}
	}
	fmt.Fprintf(&b, "  assist:     %s\n", strings.Join(as, "、"))
	fmt.Fprintf(&b, "  category:   %s\n", d.Category)
	fmt.Fprintf(&b, "  priority:   %s\n", d.Priority)
	if d.SLA != nil {
		fmt.Fprintf(&b, "  sla:        claim %s, reply %s, close %s\n", d.SLA.Claim, d.SLA.Reply, d.SLA.Close)
	} else {
		b.WriteString("  sla:        default\n")
	}
	fmt.Fprintf(&b, "  confidence: %.3f\n", d.Confidence)
	if d.Triage {
		fmt.Fprintf(&b, "  triage:     yes: %s\n", d.TriageReason)
	} else {
		b.WriteString("  triage:     no\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DisplayWidth is how many terminal columns s takes: Chinese characters and
// full-width forms take two.
func DisplayWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r), r >= 0x3000 && r <= 0x303f, r >= 0xff00 && r <= 0xff60:
			w += 2
		default:
			w++
		}
	}
	return w
}
