package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	linear "github.com/mashangban/mashangban/classify/linear"
)

// writeLabelled writes n messages per subject as JSON Lines, with a title
// on every other one.
func writeLabelled(t *testing.T, path string, n int) {
	t.Helper()
	subjects := []struct{ label, dept, words string }{
		{"城乡建设", "城市管理局", "路灯不亮 井盖丢失 违章搭建 道路破损 占道经营"},
		{"环境保护", "生态环境局", "工厂排放废气 河水发黑发臭 夜间噪音扰民 粉尘污染 油烟直排"},
		{"劳动和社会保障", "人力资源和社会保障局", "拖欠工资 社保断缴 养老保险 劳动合同 工伤认定"},
	}
	var b bytes.Buffer
	for i := range n {
		for _, s := range subjects {
			words := strings.Fields(s.words)
			rec := map[string]any{
				"text":       fmt.Sprintf("市民反映%s，而且%s，希望有关部门尽快处理。", words[i%len(words)], words[(i+2)%len(words)]),
				"category":   s.label,
				"department": s.dept,
			}
			if i%2 == 0 {
				rec["title"] = "关于" + words[(i+1)%len(words)] + "的问题"
			}
			line, _ := json.Marshal(rec)
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrainCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "train.jsonl")
	more := filepath.Join(dir, "more.jsonl")
	writeLabelled(t, data, 12)
	writeLabelled(t, more, 4)
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"text":"路灯不亮","category":"城乡建设"}`+"\n"+`{"text":"没有标签"}`+"\n"), 0o644)

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   string
		labels   []string // of the model written, if any
		modelOut string
	}{
		{name: "category with holdout", args: []string{"--holdout", "0.25", "--quiet", data},
			code: 0, stdout: []string{"read 36 labelled messages", "held out (25%): 9 messages", "trained on 27 messages", "model version sha256:"},
			labels: []string{"劳动和社会保障", "城乡建设", "环境保护"}},
		{name: "department with cv and eval over two files", args: []string{"--label", "department", "--cv", "3", "--eval", more, data, more},
			code: 0, stdout: []string{"read 48 labelled messages from 2 file(s)", "3-fold cross-validation", "macro-F1", "confusion", more + ": 12 messages"},
			labels: []string{"人力资源和社会保障局", "城市管理局", "生态环境局"}},
		{name: "logistic", args: []string{"--loss", "logistic", "--quiet", data}, code: 0, stdout: []string{"trained on 36 messages"},
			labels: []string{"劳动和社会保障", "城乡建设", "环境保护"}},
		{name: "characters only", args: []string{"--words=false", "--char-max", "2", "--min-df", "1", "--balanced=false", "--calibrate=false", data}, code: 0,
			stdout: []string{"trained on 36 messages"}, labels: []string{"劳动和社会保障", "城乡建设", "环境保护"}},
		{name: "no features", args: []string{"--words=false", "--char-max", "0", data}, code: 1, stderr: "no features"},
		{name: "no files", args: nil, code: 2, stderr: "usage: mashangban train"},
		{name: "bad label field", args: []string{"--label", "district", data}, code: 2, stderr: "usage"},
		{name: "cv and holdout", args: []string{"--cv", "5", "--holdout", "0.1", data}, code: 2, stderr: "usage"},
		{name: "missing file", args: []string{filepath.Join(dir, "nope.jsonl")}, code: 1, stderr: "no such file"},
		{name: "bad line", args: []string{data, bad}, code: 1, stderr: `bad.jsonl: line 2: missing or empty "category"`},
		{name: "bad loss", args: []string{"--loss", "tree", data}, code: 1, stderr: `unknown loss "tree"`},
		{name: "unwritable output", args: []string{"--out", filepath.Join(dir, "no", "such", "dir", "m.msbm"), data}, code: 1, stderr: "write model"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("model%d.msbm", i))
			args := tt.args
			if tt.code == 0 {
				args = append([]string{"--out", out}, args...)
			}
			var stdout, stderr bytes.Buffer
			code := trainCmd(context.Background(), args, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
			if tt.labels == nil {
				return
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := linear.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(m.Labels(), ","); got != strings.Join(tt.labels, ",") {
				t.Errorf("model labels %s, want %v", got, tt.labels)
			}
			if !strings.Contains(stdout.String(), m.Version()) {
				t.Errorf("stdout does not name the written version %s", m.Version())
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}
