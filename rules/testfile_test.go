package rules

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseTestFile(t *testing.T) {
	good := `rule_files: [., ../other/extra.yaml]
tests:
  - name: 广告牌
    text: 东方城二区16栋对面楼顶广告牌强光太亮
    channel: wechat
    geo: {lat: 31.70, lon: 118.51}
    region: 安徽 马鞍山
    expect:
      districts: [花山区, 340504]
      lead: cgj
      assist: []
      category: billboard
      priority: normal
      route: 强光广告牌
      triage: false
  - text: 只检查分流
    expect: {triage: true, route: 人工分拣, lead: cgj}
    with_model: {route: model, triage: false}
`
	tf, err := ParseTestFile("dir/x_test.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tf.RuleFiles, []string{"dir", filepath.Join("other", "extra.yaml")}) {
		t.Errorf("rule files = %v, want resolved against the test file", tf.RuleFiles)
	}
	if len(tf.Tests) != 2 {
		t.Fatalf("tests = %d", len(tf.Tests))
	}
	c := tf.Tests[0]
	x := c.Expect
	if c.Name != "广告牌" || c.Channel != "wechat" || c.Geo == nil || c.Geo.Lat != 31.70 || c.Region != "安徽 马鞍山" {
		t.Errorf("case = %+v", c)
	}
	if x.Districts == nil || !slices.Equal(*x.Districts, []string{"340503", "340504"}) || *x.Lead != "cgj" ||
		x.Assist == nil || len(*x.Assist) != 0 || *x.Category != "billboard" || *x.Route != "强光广告牌" || *x.Triage {
		t.Errorf("expect = %+v", x)
	}
	y := tf.Tests[1]
	if y.Name != "只检查分流" || y.Expect.Districts != nil || y.Expect.Triage == nil || !*y.Expect.Triage {
		t.Errorf("second case = %+v", y)
	}
	if c.WithModel != nil {
		t.Errorf("first case has with_model %+v", c.WithModel)
	}
	if y.WithModel == nil {
		t.Fatal("second case: with_model not read")
	}
	m := y.Expect.Merge(y.WithModel)
	if *m.Route != "model" || *m.Triage || *m.Lead != "cgj" || *y.Expect.Route != "人工分拣" {
		t.Errorf("merged with_model = route %q triage %v lead %q; expect's route now %q", *m.Route, *m.Triage, *m.Lead, *y.Expect.Route)
	}

	for _, tc := range []struct{ name, src, want string }{
		{"no rule files", "tests: [{text: a, expect: {lead: x}}]\n", "x_test.yaml:1:1: test file: missing rule_files"},
		{"unknown key", "rule_files: [.]\ntests:\n  - {text: a, expct: {lead: x}}\n", `x_test.yaml:3:15: test: unknown key "expct"`},
		{"bad district", "rule_files: [.]\ntests:\n  - {text: a, expect: {districts: [上海]}}\n", `x_test.yaml:3:36: expect: undefined district "上海"`},
		{"empty expect", "rule_files: [.]\ntests:\n  - {text: a, expect: {}}\n", `x_test.yaml:3:23: test "a": expect is empty`},
		{"bad geo", "rule_files: [.]\ntests:\n  - {text: a, geo: {lat: north, lon: 1}, expect: {lead: x}}\n", `x_test.yaml:3:26: test geo lat must be a number, got "north"`},
		{"unknown with_model key", "rule_files: [.]\ntests:\n  - {text: a, expect: {lead: x}, with_model: {rout: model}}\n", `x_test.yaml:3:47: with_model: unknown key "rout"`},
		{"no tests", "rule_files: [.]\n", "x_test.yaml:1:1: test file has no tests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTestFile("x_test.yaml", []byte(tc.src))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("got %v, want Errors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got\n%v\nwant %q", err, tc.want)
			}
		})
	}
}
