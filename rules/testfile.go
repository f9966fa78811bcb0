package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"
)

// TestFile is a rule test file (by convention *_test.yaml): the rule files
// to load and the cases to run against them, as `mashangban rules test` and
// the Go tests of the default rule set do.
//
//	rule_files: [.]            # files or directories, relative to this file
//	tests:
//	  - name: 强光广告牌       # optional; defaults to the text
//	    text: 东方城二区16栋对面楼顶广告牌强光太亮
//	    channel: weibo          # optional
//	    geo: {lat: 31.70, lon: 118.51}  # optional, GCJ-02
//	    region: 安徽 马鞍山      # optional
//	    expect:
//	      districts: [花山区]   # names or codes; [] expects none
//	      lead: cgj
//	      assist: [huashan.gov]
//	      category: billboard
//	      priority: normal
//	      route: 强光广告牌扰民 # the route that decided
//	      triage: false
type TestFile struct {
	Path      string
	RuleFiles []string // resolved against the test file's directory
	Tests     []TestCase
}

// TestCase is one post and what the classifier must decide about it.
// Unset expectations are not checked.
type TestCase struct {
	Name    string
	Text    string
	Channel string
	Geo     *TestGeo
	Region  string
	Expect  Expect
	Pos     Pos
}

// TestGeo is a point in a test case (GCJ-02 unless System says otherwise).
type TestGeo struct {
	Lat, Lon float64
	System   string
}

// Expect is what a test case checks; nil fields are not checked.
type Expect struct {
	Districts *[]string // codes
	Lead      *string
	Assist    *[]string
	Category  *string
	Priority  *string
	Route     *string
	Triage    *bool
}

// LoadTestFile reads and checks a rule test file (strictly, like rule files).
func LoadTestFile(path string) (*TestFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return ParseTestFile(path, b)
}

// ParseTestFile parses test-file content; path names it in errors and
// anchors relative rule_files.
func ParseTestFile(path string, data []byte) (*TestFile, error) {
	d := &decoder{file: path}
	root := d.parse(data)
	tf := &TestFile{Path: path}
	if root != nil {
		m := d.mapping(root, "test file", "rule_files", "tests")
		if f, ok := m["rule_files"]; ok {
			for _, p := range d.strList(f.val, "rule_files") {
				tf.RuleFiles = append(tf.RuleFiles, filepath.Join(filepath.Dir(path), p))
			}
		} else {
			d.errf(root, "test file: missing rule_files")
		}
		if f, ok := m["tests"]; ok {
			for _, n := range d.seq(f.val, "tests") {
				if tc, ok := testCase(d, n, MaanshanDistricts); ok {
					tf.Tests = append(tf.Tests, tc)
				}
			}
		}
		if len(tf.Tests) == 0 && len(d.errs) == 0 {
			d.errf(root, "test file has no tests")
		}
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return tf, nil
}

func testCase(d *decoder, n *yaml.Node, districts []District) (TestCase, bool) {
	nerr := len(d.errs)
	tc := TestCase{Pos: d.pos(n)}
	m := d.mapping(n, "test", "name", "text", "channel", "geo", "region", "expect")
	if m == nil {
		return tc, false
	}
	if f, ok := m["text"]; ok {
		tc.Text = d.str(f.val, "test text")
	} else {
		d.errf(n, "test: missing text")
	}
	tc.Name = tc.Text
	if f, ok := m["name"]; ok {
		tc.Name = d.nonEmpty(f.val, "test name")
	}
	if f, ok := m["channel"]; ok {
		tc.Channel = d.str(f.val, "test channel")
		valid := false
		for _, c := range Channels {
			valid = valid || c == tc.Channel
		}
		if !valid {
			d.errf(f.val, "test %q: unknown channel %q", tc.Name, tc.Channel)
		}
	}
	if f, ok := m["region"]; ok {
		tc.Region = d.str(f.val, "test region")
	}
	if f, ok := m["geo"]; ok {
		gm := d.mapping(f.val, "test geo", "lat", "lon", "system")
		g := &TestGeo{}
		for _, k := range []string{"lat", "lon"} {
			gf, ok := gm[k]
			if !ok {
				d.errf(f.val, "test geo: missing %s", k)
				continue
			}
			v, err := strconv.ParseFloat(gf.val.Value, 64)
			if err != nil || gf.val.Kind != yaml.ScalarNode {
				d.errf(gf.val, "test geo %s must be a number, got %q", k, gf.val.Value)
			}
			if k == "lat" {
				g.Lat = v
			} else {
				g.Lon = v
			}
		}
		if sf, ok := gm["system"]; ok {
			g.System = d.str(sf.val, "test geo system")
			if g.System != "gcj02" && g.System != "wgs84" {
				d.errf(sf.val, "test geo: unknown system %q (gcj02, wgs84)", g.System)
			}
		}
		tc.Geo = g
	}
	if f, ok := m["expect"]; ok {
		em := d.mapping(f.val, "expect", "districts", "lead", "assist", "category", "priority", "route", "triage")
		str := func(k string) *string {
			if ef, ok := em[k]; ok {
				s := d.str(ef.val, "expect "+k)
				return &s
			}
			return nil
		}
		if ef, ok := em["districts"]; ok {
			codes := []string{}
			for _, c := range d.seq(ef.val, "expect districts") {
				s := d.str(c, "expect district")
				if dist, ok := DistrictByRef(districts, s); ok {
					codes = append(codes, dist.Code)
				} else {
					d.errf(c, "expect: undefined district %q", s)
				}
			}
			tc.Expect.Districts = &codes
		}
		tc.Expect.Lead = str("lead")
		tc.Expect.Category = str("category")
		tc.Expect.Priority = str("priority")
		tc.Expect.Route = str("route")
		if ef, ok := em["assist"]; ok {
			as := d.strList(ef.val, "expect assist")
			if as == nil {
				as = []string{}
			}
			tc.Expect.Assist = &as
		}
		if ef, ok := em["triage"]; ok {
			b := d.boolean(ef.val, "expect triage")
			tc.Expect.Triage = &b
		}
		if len(em) == 0 {
			d.errf(f.val, "test %q: expect is empty", tc.Name)
		}
	} else {
		d.errf(n, "test %q: missing expect", tc.Name)
	}
	return tc, len(d.errs) == nerr
}
