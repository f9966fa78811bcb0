package linear

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// ClassMetrics are one label's figures.
type ClassMetrics struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`   // gold count
	Predicted int     `json:"predicted"` // predicted count
}

// Metrics compare predicted labels with gold ones.
type Metrics struct {
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
	// MacroF1 is the unweighted mean of the per-label F1 over the labels
	// that occur in gold (a label only ever predicted still costs
	// precision elsewhere but is not averaged in).
	MacroF1 float64 `json:"macro_f1"`
	// Labels are every label seen in gold or predictions, sorted; PerClass
	// and both axes of Confusion follow this order.
	Labels   []string       `json:"labels"`
	PerClass []ClassMetrics `json:"per_class"`
	// Confusion[i][j] counts messages of gold label i predicted as j.
	Confusion [][]int `json:"confusion"`
}

// Evaluate computes the metrics of pred against gold; the two slices must
// have the same length.
func Evaluate(gold, pred []string) Metrics {
	if len(gold) != len(pred) {
		panic(fmt.Sprintf("model.Evaluate: %d gold labels but %d predictions", len(gold), len(pred)))
	}
	set := map[string]bool{}
	for i := range gold {
		set[gold[i]], set[pred[i]] = true, true
	}
	labels := make([]string, 0, len(set))
	for l := range set {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	idx := make(map[string]int, len(labels))
	for i, l := range labels {
		idx[l] = i
	}
	m := Metrics{N: len(gold), Labels: labels, Confusion: make([][]int, len(labels))}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, len(labels))
	}
	correct := 0
	for i := range gold {
		m.Confusion[idx[gold[i]]][idx[pred[i]]]++
		if gold[i] == pred[i] {
			correct++
		}
	}
	if m.N > 0 {
		m.Accuracy = float64(correct) / float64(m.N)
	}
	var f1sum float64
	nGold := 0
	for i, l := range labels {
		c := ClassMetrics{Label: l}
		tp := m.Confusion[i][i]
		for j := range labels {
			c.Support += m.Confusion[i][j]
			c.Predicted += m.Confusion[j][i]
		}
		if c.Predicted > 0 {
			c.Precision = float64(tp) / float64(c.Predicted)
		}
		if c.Support > 0 {
			c.Recall = float64(tp) / float64(c.Support)
		}
		if c.Precision+c.Recall > 0 {
			c.F1 = 2 * c.Precision * c.Recall / (c.Precision + c.Recall)
		}
		if c.Support > 0 {
			f1sum += c.F1
			nGold++
		}
		m.PerClass = append(m.PerClass, c)
	}
	if nGold > 0 {
		m.MacroF1 = f1sum / float64(nGold)
	}
	return m
}

// WriteText prints the figures: the totals, a per-label table and the
// confusion matrix with gold labels as rows. Columns are aligned by display
// width (a Chinese character takes two cells).
func (m Metrics) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "messages  %d\naccuracy  %.4f\nmacro-F1  %.4f\n\n", m.N, m.Accuracy, m.MacroF1)
	rows := [][]string{{"label", "precision", "recall", "F1", "support", "predicted"}}
	for _, c := range m.PerClass {
		rows = append(rows, []string{c.Label, fmt.Sprintf("%.4f", c.Precision), fmt.Sprintf("%.4f", c.Recall),
			fmt.Sprintf("%.4f", c.F1), fmt.Sprint(c.Support), fmt.Sprint(c.Predicted)})
	}
	writeTable(&b, rows)
	b.WriteString("\nconfusion (rows gold, columns predicted)\n")
	rows = [][]string{{""}}
	for i := range m.Labels {
		rows[0] = append(rows[0], fmt.Sprint(i+1))
	}
	for i, l := range m.Labels {
		row := []string{fmt.Sprintf("%d %s", i+1, l)}
		for _, n := range m.Confusion[i] {
			row = append(row, fmt.Sprint(n))
		}
		rows = append(rows, row)
	}
	writeTable(&b, rows)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable left-aligns the first column and right-aligns the others, two
// cells apart.
func writeTable(b *strings.Builder, rows [][]string) {
	var width []int
	for _, r := range rows {
		for j, c := range r {
			if j >= len(width) {
				width = append(width, 0)
			}
			width[j] = max(width[j], displayWidth(c))
		}
	}
	for _, r := range rows {
		for j, c := range r {
			pad := strings.Repeat(" ", width[j]-displayWidth(c))
			switch {
			case j == 0:
				b.WriteString(c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		b.WriteString("\n")
	}
}

// displayWidth counts East Asian wide characters (CJK, full-width forms) as
// two cells, everything else as one.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r >= 0x1100 && (r <= 0x115f || (r >= 0x2e80 && r <= 0xa4cf) || (r >= 0xac00 && r <= 0xd7a3) ||
			(r >= 0xf900 && r <= 0xfaff) || (r >= 0xfe30 && r <= 0xfe4f) || (r >= 0xff00 && r <= 0xff60) ||
			(r >= 0xffe0 && r <= 0xffe6) || (r >= 0x20000 && r <= 0x3fffd)):
			n += 2
		default:
			n++
		}
	}
	return n
}
