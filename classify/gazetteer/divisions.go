package gazetteer

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// The divisions of 马鞍山市 (NBS 2023 statistical division codes); see
// data/PROVENANCE.md for where they come from.
//
//go:embed data/maanshan_divisions.csv
var divisionsCSV []byte

// commonWordsTxt lists short forms that are ordinary words; see shortForms.
//
//go:embed data/common_words.txt
var commonWordsTxt string

// division is one row of the statistics: a district or county, a street or
// town, or a community or village.
type division struct {
	Code     string
	Name     string // full name, e.g. 阳湖社区居委会
	Kind     string // KindDistrict, KindStreet or KindCommunity
	Parent   string // parent's code; "" for districts
	District string // code of the district it lies in (itself for a district)
}

// placeholder reports whether a statistics row is an NBS placeholder, not a
// real place ("慈湖街道虚拟社区", "...虚拟生活区").
func placeholder(name string) bool {
	return strings.Contains(name, "虚拟社区") || strings.Contains(name, "虚拟生活区")
}

// parseDivisions reads the statistics CSV: code,name,level,parent_code,
// parent_name,area_name with levels area, street and village.
func parseDivisions(data []byte) ([]division, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = 6
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read divisions header: %w", err)
	}
	if strings.Join(header, ",") != "code,name,level,parent_code,parent_name,area_name" {
		return nil, fmt.Errorf("unexpected divisions header %q", strings.Join(header, ","))
	}
	var out []division
	byCode := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read divisions: %w", err)
		}
		code, name, level, parent := rec[0], strings.TrimSpace(rec[1]), rec[2], rec[3]
		if placeholder(name) {
			continue
		}
		d := division{Code: code, Name: name}
		switch level {
		case "area":
			d.Kind, d.District = KindDistrict, code
		case "street":
			d.Kind, d.Parent = KindStreet, parent
		case "village":
			d.Kind, d.Parent = KindCommunity, parent
		default:
			return nil, fmt.Errorf("division %s: unknown level %q", code, level)
		}
		if d.Parent != "" {
			i, ok := byCode[d.Parent]
			if !ok {
				return nil, fmt.Errorf("division %s: parent %s not listed before it", code, d.Parent)
			}
			d.District = out[i].District
		}
		if _, dup := byCode[code]; dup {
			return nil, fmt.Errorf("division %s listed twice", code)
		}
		byCode[code] = len(out)
		out = append(out, d)
	}
	return out, nil
}

// parseCommonWords reads data/common_words.txt: one word a line, "#" comments.
func parseCommonWords(s string) map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if w := strings.TrimSpace(line); w != "" {
			m[w] = true
		}
	}
	return m
}

// zoneMarkers mark street-level functional zones (开发区, 基地, 园, 旅游区,
// 示范区) whose names have no short form a citizen would use.
var zoneMarkers = []string{"开发区", "基地", "园", "旅游区", "示范区"}

// shortForm is a name a citizen uses for a division besides its full name.
// A bare form is the stem alone; a suffixed one keeps a generic suffix.
type shortForm struct {
	text string
	bare bool
}

// shortForms returns the short forms of a division, before filtering:
//
//	X社区居委会 → X社区, X      (东方城社区居委会 → 东方城社区, 东方城)
//	X居委会     → X社区, X      (年丰居委会 → 年丰社区)
//	X村委会     → X村, X        (娘娘庙村委会 → 娘娘庙村, 娘娘庙)
//	X街道       → X             (湖东路街道 → 湖东路)
//	X镇, X乡    → X             (濮塘镇 → 濮塘)
//	X区, X县    → X             (花山区 → 花山, 和县 → 和)
//
// The bare stem X of a community or village is a form only when it has at
// least three characters: two-character stems (阳湖, 九华, 里桥) are too
// often part of other words and names, and the people who live there write
// 阳湖社区 or the compound's name. Functional zones (开发区, 基地, 园, 旅游区,
// 示范区) have no short form. New then keeps a short form only if it has at
// least two characters and is not an ordinary word (data/common_words.txt).
func shortForms(d division) []shortForm {
	n := d.Name
	switch d.Kind {
	case KindCommunity:
		for _, s := range []struct{ suf, keep string }{{"社区居委会", "社区"}, {"居委会", "社区"}, {"村委会", "村"}} {
			if stem, ok := strings.CutSuffix(n, s.suf); ok {
				if utf8.RuneCountInString(stem) < 3 {
					return []shortForm{{stem + s.keep, false}}
				}
				return []shortForm{{stem + s.keep, false}, {stem, true}}
			}
		}
	case KindStreet:
		for _, m := range zoneMarkers {
			if strings.Contains(n, m) {
				return nil
			}
		}
		for _, suf := range []string{"街道", "镇", "乡"} {
			if stem, ok := strings.CutSuffix(n, suf); ok {
				return []shortForm{{stem, true}}
			}
		}
	case KindDistrict:
		for _, suf := range []string{"区", "县"} {
			if stem, ok := strings.CutSuffix(n, suf); ok {
				return []shortForm{{stem, true}}
			}
		}
	}
	return nil
}

// shortEnough reports whether a name is too short to match safely.
func shortEnough(s string) bool { return utf8.RuneCountInString(s) < 2 }
