package model

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
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
// confusion matrix with gold labels as rows.
func (m Metrics) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "messages\t%d\t\n", m.N)
	fmt.Fprintf(tw, "accuracy\t%.4f\t\n", m.Accuracy)
	fmt.Fprintf(tw, "macro-F1\t%.4f\t\n", m.MacroF1)
	fmt.Fprintln(tw, "\t\t")
	fmt.Fprintln(tw, "label\tprecision\trecall\tF1\tsupport\tpredicted\t")
	for _, c := range m.PerClass {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%d\t%d\t\n", c.Label, c.Precision, c.Recall, c.F1, c.Support, c.Predicted)
	}
	fmt.Fprintln(tw, "\t\t")
	fmt.Fprintln(tw, "confusion (rows gold, columns predicted)\t")
	var hdr strings.Builder
	hdr.WriteString("\t")
	for i := range m.Labels {
		fmt.Fprintf(&hdr, "%d\t", i+1)
	}
	fmt.Fprintln(tw, hdr.String())
	for i, l := range m.Labels {
		var row strings.Builder
		fmt.Fprintf(&row, "%d %s\t", i+1, l)
		for _, n := range m.Confusion[i] {
			fmt.Fprintf(&row, "%d\t", n)
		}
		fmt.Fprintln(tw, row.String())
	}
	return tw.Flush()
}
