// Package gazetteer knows the places of 马鞍山市 and resolves a post to its
// district(s): the statistical divisions (6 districts and counties, 59
// streets and towns, 558 communities and villages after dropping the 9 NBS
// placeholder rows), their short forms, a user-maintained file of roads,
// residential compounds and landmarks, and the district boundaries for geo
// points.
//
// Names and what they stand for:
//   - every division by its full name (阳湖社区居委会, 湖东路街道, 花山区);
//   - its short forms (阳湖社区, 东方城, 霍里村, 湖东路, 花山): at least two
//     characters, three for the bare stem of a community or village, and not
//     an ordinary word (data/common_words.txt, derived from gse's
//     dictionary: 石桥, 新农村, ...);
//   - the user's places and their aliases, which take a short form over but
//     may not reuse a full name.
//
// When a name stands for several divisions, full names beat short forms,
// suffixed short forms (东方城社区) beat bare stems (东方城), and higher
// levels beat lower ones (佳山 is 佳山乡); if the remaining candidates lie in
// different districts the name is ambiguous (龙山村 is in three counties): it
// is still found, but does not settle the district alone. A name starting
// with 和 (和县) is not matched where 和 reads as the conjunction
// ("县政府和县物价局"). README.md gives the reasons and figures.
//
// It is not for deciding departments or routes: that is classify's.
package gazetteer

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
)

// Kinds of place, as in model.PlaceMatch.Kind.
const (
	KindDistrict  = "district"
	KindStreet    = "street"
	KindCommunity = "community"
	KindRoad      = "road"
	KindCompound  = "compound"
	KindLandmark  = "landmark"
)

// CityCode is the statistical code of 马鞍山市. A place mapped to the city
// (in: 马鞍山市) is a known name whose district is not known: it is found
// and kept whole by the segmenter but does not settle a district.
const CityCode = "340500"

// CityName is the full name of the city.
const CityName = "马鞍山市"

// How a Resolution found its districts.
const (
	ByPlace  = "place"
	ByGeo    = "geo"
	ByRegion = "region"
	ByNone   = "none"
)

// Resolution is where a post is, and how that was found.
type Resolution struct {
	Districts []model.District
	By        string // ByPlace, ByGeo, ByRegion or ByNone
	Places    []model.PlaceMatch
	// Border is set when more than one district is concerned (a border road,
	// "花山区和雨山区交界处"): the rules add the city-level coordinator.
	Border bool
}

// Gazetteer is immutable once built and safe for concurrent use.
type Gazetteer struct {
	divisions map[string]division // by code
	districts []model.District    // in code order
	names     map[string]*entry
	trie      *node
	words     []string
}

// entry is what a name found in text stands for.
type entry struct {
	name      string
	kind      string
	code      string   // division code; for user places the single division they were mapped to
	districts []string // district codes; several for a border road or an ambiguous name
	ambiguous bool     // several divisions in different districts share the name
}

// base is the statistics, parsed once: it is the same for every Gazetteer.
var base = sync.OnceValues(func() ([]division, error) {
	return parseDivisions(divisionsCSV)
})

// Form ranks: a full name beats a suffixed short form beats a bare stem.
const (
	formFull = iota
	formSuffixed
	formBare
)

var levelRank = map[string]int{KindDistrict: 0, KindStreet: 1, KindCommunity: 2}

type candidate struct {
	d    division
	form int
}

// New builds the gazetteer of 马鞍山市 with the user's places added. Every
// division a place names in "in" must exist and be unambiguous; a place may
// not reuse the full name of a division or another place's name. All
// problems are returned at once as Errors with the place's position.
func New(extra []Place) (*Gazetteer, error) {
	divs, err := base()
	if err != nil {
		return nil, fmt.Errorf("load divisions: %w", err)
	}
	common := parseCommonWords(commonWordsTxt)
	g := &Gazetteer{divisions: make(map[string]division, len(divs)), names: map[string]*entry{}}
	cands := map[string][]candidate{}
	for _, d := range divs {
		g.divisions[d.Code] = d
		if d.Kind == KindDistrict {
			g.districts = append(g.districts, model.District{Code: d.Code, Name: d.Name})
		}
		cands[d.Name] = append(cands[d.Name], candidate{d, formFull})
		for _, f := range shortForms(d) {
			if shortEnough(f.text) || common[f.text] {
				continue
			}
			form := formSuffixed
			if f.bare {
				form = formBare
			}
			cands[f.text] = append(cands[f.text], candidate{d, form})
		}
	}
	sort.Slice(g.districts, func(i, j int) bool { return g.districts[i].Code < g.districts[j].Code })
	for name, cs := range cands {
		g.names[name] = pick(name, cs)
	}

	var errs Errors
	userAt := map[string]Pos{}
	for _, p := range extra {
		e := &entry{name: p.Name, kind: p.Kind}
		var codes []string
		for i, ref := range p.In {
			pos := p.Pos
			if i < len(p.InPos) {
				pos = p.InPos[i]
			}
			code, err := g.lookupDivision(ref)
			if err != nil {
				errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("%s %q: %v", p.Kind, p.Name, err)})
				continue
			}
			codes = append(codes, code)
			if code != CityCode && !slices.Contains(e.districts, g.divisions[code].District) {
				e.districts = append(e.districts, g.divisions[code].District)
			}
		}
		if len(codes) == 1 && codes[0] != CityCode {
			e.code = codes[0]
		}
		for _, n := range append([]string{p.Name}, p.Aliases...) {
			if prev, ok := userAt[n]; ok {
				errs = append(errs, &Error{Pos: p.Pos, Msg: fmt.Sprintf("%q is already a place at %s", n, prev)})
				continue
			}
			if old, ok := g.names[n]; ok && old.kind != KindRoad && old.kind != KindCompound && old.kind != KindLandmark {
				if cs := cands[n]; len(cs) > 0 && cs[0].form == formFull {
					errs = append(errs, &Error{Pos: p.Pos, Msg: fmt.Sprintf("%q is the name of division %s", n, cs[0].d.Code)})
					continue
				}
			}
			userAt[n] = p.Pos
			ue := *e
			ue.name = n
			g.names[n] = &ue
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	g.trie = &node{}
	for n, e := range g.names {
		g.trie.insert(n, e)
		g.words = append(g.words, n)
	}
	sort.Strings(g.words)
	return g, nil
}

// pick decides what a name shared by several divisions stands for.
func pick(name string, cs []candidate) *entry {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].form != cs[j].form {
			return cs[i].form < cs[j].form
		}
		return levelRank[cs[i].d.Kind] < levelRank[cs[j].d.Kind]
	})
	best := cs[0]
	e := &entry{name: name, kind: best.d.Kind, code: best.d.Code, districts: []string{best.d.District}}
	for _, c := range cs[1:] {
		if c.form != best.form || c.d.Kind != best.d.Kind {
			break
		}
		if !slices.Contains(e.districts, c.d.District) {
			e.districts = append(e.districts, c.d.District)
			e.ambiguous = true
			e.code = ""
		}
	}
	return e
}

// lookupDivision finds the division a places file names: a code, the city,
// or an unambiguous division name (full or short).
func (g *Gazetteer) lookupDivision(ref string) (string, error) {
	if ref == CityCode || ref == CityName || ref == "马鞍山" {
		return CityCode, nil
	}
	if _, ok := g.divisions[ref]; ok {
		return ref, nil
	}
	e, ok := g.names[ref]
	if !ok || (e.kind != KindDistrict && e.kind != KindStreet && e.kind != KindCommunity) {
		return "", fmt.Errorf("unknown division %q", ref)
	}
	if e.ambiguous {
		var codes []string
		for _, d := range g.divisionsNamed(ref) {
			codes = append(codes, d.Code+" "+d.Name)
		}
		return "", fmt.Errorf("%q names several divisions (%s): use the code", ref, strings.Join(codes, ", "))
	}
	return e.code, nil
}

// divisionsNamed lists the divisions whose full name or short form is name.
func (g *Gazetteer) divisionsNamed(name string) []division {
	var out []division
	for _, d := range g.divisions {
		if d.Name == name || slices.ContainsFunc(shortForms(d), func(f shortForm) bool { return f.text == name }) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Words returns every name the gazetteer matches (full names, short forms,
// user places and aliases), sorted: the segmenter's user words.
func (g *Gazetteer) Words() []string { return slices.Clone(g.words) }

// District returns the district or county with the given code.
func (g *Gazetteer) District(code string) (model.District, bool) {
	for _, d := range g.districts {
		if d.Code == code {
			return d, true
		}
	}
	return model.District{}, false
}

// Division returns the full name, kind (KindDistrict, KindStreet or
// KindCommunity) and district code of any division, for explanations
// (a PlaceMatch's Code names the community a compound lies in).
func (g *Gazetteer) Division(code string) (name, kind, district string, ok bool) {
	d, ok := g.divisions[code]
	return d.Name, d.Kind, d.District, ok
}

// Districts returns the six districts and counties in code order.
func (g *Gazetteer) Districts() []model.District { return slices.Clone(g.districts) }

// Find returns the places named in a segmented text, in order. Names are
// matched over the joined tokens, so that the segmenter's cut decides only
// where a name may start and end, not whether it is found:
//
//   - a name starts where a token starts and ends where one ends ("阳湖"
//     "社区" is 阳湖社区);
//   - or, for a name of three characters or more, it crosses a token
//     boundary and starts or ends with a token: the segmenter glued its last
//     characters to the word after it ("湖东" "路上" is 湖东路, "东方"
//     "城里" is 东方城, "当涂" "县城" is 当涂县) or its first to the word
//     before it ("在湖" "东路").
//
// A name lying inside one longer word is not a place (采石 in 采石场), nor
// is a two-character name cut across words (新市 in "新" "市民"). At each position the
// longest name wins, so a park named after a community (秀山湖公园) is the
// park, not the community.
func (g *Gazetteer) Find(tokens []string) []model.PlaceMatch {
	var b strings.Builder
	bounds := make(map[int]bool, len(tokens)+1)
	for _, t := range tokens {
		if t == "" {
			continue
		}
		bounds[b.Len()] = true
		b.WriteString(t)
	}
	bounds[b.Len()] = true
	return g.scan(b.String(), bounds)
}

// FindText returns the places named in raw text, matching at every character.
func (g *Gazetteer) FindText(text string) []model.PlaceMatch {
	return g.scan(text, nil)
}

// scan finds leftmost-longest names in text. With bounds nil every character
// boundary counts; otherwise bounds are the token boundaries and Find's
// rules apply.
func (g *Gazetteer) scan(text string, bounds map[int]bool) []model.PlaceMatch {
	var out []model.PlaceMatch
	for i := 0; i < len(text); {
		e, end := g.trie.longest(text, i, bounds)
		if e != nil && !conjunction(text, i, e.name) {
			out = append(out, e.match())
			i = end
			continue
		}
		_, n := utf8.DecodeRuneInString(text[i:])
		i += n
	}
	return out
}

// conjunction reports whether a name that starts with 和 is more likely the
// conjunction 和 before a word starting with the rest: "县政府和县物价局",
// "卫生院和县医院" are not 和县. It is, when a Han character other than one
// that leads into a place (马鞍山市和县, 在和县, 与和县交界) comes before it.
func conjunction(text string, i int, name string) bool {
	if !strings.HasPrefix(name, "和") || i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return unicode.Is(unicode.Han, r) && !strings.ContainsRune(placeLeads, r)
}

// placeLeads are characters after which 和 starts a place name, not a conjunction.
const placeLeads = "市省在到去住是来回从往于至经与及近邻"

func (e *entry) match() model.PlaceMatch {
	m := model.PlaceMatch{Text: e.name, Kind: e.kind, Code: e.code}
	if len(e.districts) == 1 && !e.ambiguous {
		m.District = e.districts[0]
	}
	return m
}

// Resolve finds the district(s) of a post.
//
//  1. Places named in the text (the tokens if given, else the raw text):
//     districts named and places in one district count first, in order of
//     mention; a border road adds its districts only if none of them is
//     named otherwise ("湖东路阳湖花园" is 雨山区 alone); an ambiguous name
//     or a place mapped to the city only counts for nothing. Border is set
//     when more than one district results.
//  2. Else the geo point, inside a district boundary (GCJ-02; points in
//     "wgs84" or "bd09" are converted first).
//  3. Else the platform's region hint, if it names a district ("安徽 马鞍山"
//     names only the city, so it does not).
//  4. Else none: the district is unknown.
func (g *Gazetteer) Resolve(text string, tokens []string, geo *model.Geo, region string) Resolution {
	var places []model.PlaceMatch
	if len(tokens) > 0 {
		places = g.Find(tokens)
	} else {
		places = g.FindText(text)
	}
	r := Resolution{Places: places, By: ByNone}
	var codes []string
	add := func(c string) {
		if !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	for _, p := range places {
		if p.District != "" {
			add(p.District)
		}
	}
	for _, p := range places {
		e := g.names[p.Text]
		if e == nil || e.ambiguous || len(e.districts) < 2 {
			continue
		}
		if !slices.ContainsFunc(e.districts, func(c string) bool { return slices.Contains(codes, c) }) {
			for _, c := range e.districts {
				add(c)
			}
		}
	}
	switch {
	case len(codes) > 0:
		r.By = ByPlace
	default:
		if c, ok := g.Locate(geo); ok {
			codes, r.By = []string{c}, ByGeo
			break
		}
		for _, p := range g.FindText(region) {
			if p.District != "" && !slices.Contains(codes, p.District) {
				codes = append(codes, p.District)
			}
		}
		if len(codes) > 0 {
			r.By = ByRegion
		}
	}
	for _, c := range codes {
		d, _ := g.District(c)
		r.Districts = append(r.Districts, d)
	}
	r.Border = len(r.Districts) > 1
	return r
}

// node is a rune trie over the names.
type node struct {
	next map[rune]*node
	e    *entry
}

func (n *node) insert(name string, e *entry) {
	for _, r := range name {
		if n.next == nil {
			n.next = map[rune]*node{}
		}
		c := n.next[r]
		if c == nil {
			c = &node{}
			n.next[r] = c
		}
		n = c
	}
	n.e = e
}

// longest returns the longest name starting at byte offset i of text that
// Find's rules allow with these token boundaries (any name if bounds is
// nil), and the offset after it.
func (n *node) longest(text string, i int, bounds map[int]bool) (*entry, int) {
	var best *entry
	end := i
	atStart := bounds == nil || bounds[i]
	crossed := false // a token boundary lies strictly inside text[i:j]
	runes := 0
	for j := i; j < len(text); {
		if j > i && bounds[j] {
			crossed = true
		}
		r, size := utf8.DecodeRuneInString(text[j:])
		n = n.next[r]
		if n == nil {
			break
		}
		j += size
		runes++
		if n.e == nil {
			continue
		}
		ok := bounds == nil || (atStart && bounds[j]) ||
			(runes >= 3 && crossed && (atStart || bounds[j]))
		if ok {
			best, end = n.e, j
		}
	}
	return best, end
}
