package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	linear "github.com/mashangban/mashangban/classify/linear"
)

type spaceCutter struct{}

func (spaceCutter) Cut(s string) []string { return strings.Fields(s) }

// TestRulesShowsTheModel: GET /rules says which rule set serves and which
// model, when it was trained and on how many examples; a model added to
// the rule directory is served after a reload.
func TestRulesShowsTheModel(t *testing.T) {
	cfg := setups[0].cfg(t, t.TempDir())
	cfg.HTTP.EnableLifecycle = true
	r := start(t, cfg, app.Options{})
	base := "http://" + r.app.Addr()
	type status struct {
		RuleSetVersion string `json:"rule_set_version"`
		Model          *struct {
			Version string            `json:"version"`
			Trained *linear.TrainInfo `json:"trained"`
		} `json:"model"`
	}
	httpDo(t, "GET", base+"/rules", "", 401)
	var st status
	if err := json.Unmarshal([]byte(httpDo(t, "GET", base+"/rules", adminToken, 200)), &st); err != nil {
		t.Fatal(err)
	}
	if st.RuleSetVersion == "" || st.Model != nil {
		t.Fatalf("built-in rules: %+v, want a version and no model", st)
	}

	var examples []linear.Example
	for i := range 20 {
		examples = append(examples, linear.Example{Text: fmt.Sprintf("垃圾 清运 %d", i), Label: "城乡建设"},
			linear.Example{Text: fmt.Sprintf("河水 发臭 %d", i), Label: "环境保护"})
	}
	opts := linear.DefaultTrainOptions()
	opts.Segmenter = spaceCutter{}
	m, err := linear.Train(examples, opts)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	m = m.WithTrainInfo(linear.TrainInfo{At: at, Label: "category", Examples: 40, Sources: []string{"store: 40 cases (40 routed or transferred by hand), label category"}})
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	dir := cfg.RulesDir()
	if err := os.WriteFile(filepath.Join(dir, "model.msbm"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "95-model.yaml"), []byte("model: {file: model.msbm, threshold: 0.5}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	httpDo(t, "POST", base+"/-/reload", adminToken, 200)
	st = status{}
	if err := json.Unmarshal([]byte(httpDo(t, "GET", base+"/rules", adminToken, 200)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Model == nil || st.Model.Version != m.Version() || st.Model.Trained == nil || st.Model.Trained.Examples != 40 || !st.Model.Trained.At.Equal(at) {
		t.Fatalf("after adding a model: %+v, want version %s trained %s on 40", st.Model, m.Version(), at)
	}
}
