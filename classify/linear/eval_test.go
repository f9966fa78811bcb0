package linear

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestEvaluate(t *testing.T) {
	// a: 3 gold, 2 right, one predicted b.  b: 2 gold, 1 right, one predicted c.
	// c: 1 gold, 1 right.  Predicted counts: a 2, b 2, c 2.
	gold := []string{"a", "a", "a", "b", "b", "c"}
	pred := []string{"a", "a", "b", "b", "c", "c"}
	m := Evaluate(gold, pred)
	if m.N != 6 || !near(m.Accuracy, 4.0/6) {
		t.Errorf("n %d accuracy %v, want 6 and %v", m.N, m.Accuracy, 4.0/6)
	}
	want := []ClassMetrics{
		{Label: "a", Precision: 1, Recall: 2.0 / 3, F1: 0.8, Support: 3, Predicted: 2},
		{Label: "b", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2, Predicted: 2},
		{Label: "c", Precision: 0.5, Recall: 1, F1: 2.0 / 3, Support: 1, Predicted: 2},
	}
	for i, w := range want {
		g := m.PerClass[i]
		if g.Label != w.Label || !near(g.Precision, w.Precision) || !near(g.Recall, w.Recall) || !near(g.F1, w.F1) || g.Support != w.Support || g.Predicted != w.Predicted {
			t.Errorf("class %d = %+v, want %+v", i, g, w)
		}
	}
	if wantF1 := (0.8 + 0.5 + 2.0/3) / 3; !near(m.MacroF1, wantF1) {
		t.Errorf("macro-F1 %v, want %v", m.MacroF1, wantF1)
	}
	wantConf := [][]int{{2, 1, 0}, {0, 1, 1}, {0, 0, 1}}
	for i := range wantConf {
		for j := range wantConf[i] {
			if m.Confusion[i][j] != wantConf[i][j] {
				t.Fatalf("confusion = %v, want %v", m.Confusion, wantConf)
			}
		}
	}
}

func TestEvaluateLabelOnlyPredicted(t *testing.T) {
	// "x" is never gold: it appears in the matrix but not in the macro average.
	m := Evaluate([]string{"a", "b"}, []string{"a", "x"})
	if len(m.Labels) != 3 || !near(m.MacroF1, 0.5) {
		t.Fatalf("labels %v macro-F1 %v, want 3 labels and 0.5", m.Labels, m.MacroF1)
	}
	if e := Evaluate(nil, nil); e.N != 0 || e.Accuracy != 0 || e.MacroF1 != 0 {
		t.Fatalf("empty evaluation = %+v", e)
	}
}

func TestMetricsWriteText(t *testing.T) {
	m := Evaluate([]string{"城乡建设", "城乡建设", "交通运输"}, []string{"城乡建设", "交通运输", "交通运输"})
	var b bytes.Buffer
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"accuracy", "0.6667", "macro-F1", "城乡建设", "交通运输", "confusion (rows gold, columns predicted)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Gold 城乡建设 (label 2 in byte order) was once right and once taken for 交通运输.
	if !regexp.MustCompile(`(?m)^2 城乡建设 +1 +1$`).MatchString(out) {
		t.Errorf("confusion row of 城乡建设 is not \"1 1\":\n%s", out)
	}
	// Both tables are aligned by display width: every line of a table is as
	// wide as its header.
	for _, table := range strings.Split(out, "\n\n")[1:] {
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if strings.HasPrefix(lines[0], "confusion") {
			lines = lines[1:]
		}
		for _, l := range lines[1:] {
			if displayWidth(l) != displayWidth(lines[0]) {
				t.Errorf("misaligned line %q (%d cells) under %q (%d cells)", l, displayWidth(l), lines[0], displayWidth(lines[0]))
			}
		}
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "城乡建设": 8, "Ａ1": 3, "2 交通运输": 10} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
