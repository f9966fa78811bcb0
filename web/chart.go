package web

import "github.com/mashangban/mashangban/dispatch"

// chart is a horizontal bar chart of on-time rates, drawn as SVG on the
// server: three bars per department (claim, reply, close) and the 95%
// target as a line. Coordinates are in SVG user units.
type chart struct {
	Width, Height int
	TargetX       float64
	Groups        []chartGroup
}

type chartGroup struct {
	Y     int
	Label string
	Bars  []chartBar
}

type chartBar struct {
	Y     int
	W     float64
	Class string // claim, reply, close
	Title string
}

const (
	chartLabelW = 130
	chartBarsW  = 200
	chartBarH   = 8
)

func rateChart(rows []rateLine) chart {
	c := chart{Width: chartLabelW + chartBarsW + 50, TargetX: chartLabelW + dispatch.Target*chartBarsW}
	y := 4
	for _, r := range rows {
		g := chartGroup{Y: y + 3*chartBarH/2 + 4, Label: r.Name}
		for i, b := range []struct {
			v            float64
			class, label string
		}{{r.Claim, "claim", "按时签收"}, {r.Reply, "reply", "按时答复"}, {r.Close, "close", "一周内办结"}} {
			g.Bars = append(g.Bars, chartBar{Y: y + i*(chartBarH+1), W: b.v * chartBarsW, Class: b.class, Title: r.Name + " " + b.label + " " + pct(b.v)})
		}
		c.Groups = append(c.Groups, g)
		y += 3*(chartBarH+1) + 8
	}
	c.Height = y + 4
	return c
}
