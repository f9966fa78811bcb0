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
//	    with_model:             # optional: what differs with the model loaded
//	      route: model
//
// `mashangban rules test` runs every case twice when a model is configured:
// with the rules alone (expect) and with the model loaded (expect, with the
// keys of with_model replacing its own).
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
	// WithModel replaces expectations of Expect when the test runs with
	// the learned model loaded: a post no route settles is the model's.
	WithModel *Expect
	Pos       Pos
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
	m := d.mapping(n, "test", "name", "text", "channel", "geo", "region", "expect", "with_model")
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
		tc.Expect = expect(d, f.val, tc.Name, "expect", districts)
	} else {
		d.errf(n, "test %q: missing expect", tc.Name)
	}
	if f, ok := m["with_model"]; ok {
		x := expect(d, f.val, tc.Name, "with_model", districts)
		tc.WithModel = &x
	}
	return tc, len(d.errs) == nerr
}

// expect parses an expect or with_model mapping.
func expect(d *decoder, n *yaml.Node, name, what string, districts []District) Expect {
	var x Expect
	em := d.mapping(n, what, "districts", "lead", "assist", "category", "priority", "route", "triage")
	str := func(k string) *string {
		if ef, ok := em[k]; ok {
			s := d.str(ef.val, what+" "+k)
			return &s
		}
		return nil
	}
	if ef, ok := em["districts"]; ok {
		codes := []string{}
		for _, c := range d.seq(ef.val, what+" districts") {
			s := d.str(c, what+" district")
			if dist, ok := DistrictByRef(districts, s); ok {
				codes = append(codes, dist.Code)
			} else {
				d.errf(c, "%s: undefined district %q", what, s)
			}
		}
		x.Districts = &codes
	}
	x.Lead = str("lead")
	x.Category = str("category")
	x.Priority = str("priority")
	x.Route = str("route")
	if ef, ok := em["assist"]; ok {
		as := d.strList(ef.val, what+" assist")
		if as == nil {
			as = []string{}
		}
		x.Assist = &as
	}
	if ef, ok := em["triage"]; ok {
		b := d.boolean(ef.val, what+" triage")
		x.Triage = &b
	}
	if len(em) == 0 {
		d.errf(n, "test %q: %s is empty", name, what)
	}
	return x
}

// Merge returns x with every expectation that o sets replaced by o's.
func (x Expect) Merge(o *Expect) Expect {
	if o == nil {
		return x
	}
	if o.Districts != nil {
		x.Districts = o.Districts
	}
	if o.Lead != nil {
		x.Lead = o.Lead
	}
	if o.Assist != nil {
		x.Assist = o.Assist
	}
	if o.Category != nil {
		x.Category = o.Category
	}
	if o.Priority != nil {
		x.Priority = o.Priority
	}
	if o.Route != nil {
		x.Route = o.Route
	}
	if o.Triage != nil {
		x.Triage = o.Triage
	}
	return x
}
