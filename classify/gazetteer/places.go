package gazetteer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mashangban/mashangban/rules"
)

// Pos, Error and Errors are the rule files' position and error types, so a
// places file reports its problems exactly as the rule files do
// (file:line:col: message, all at once).
type (
	Pos    = rules.Pos
	Error  = rules.Error
	Errors = rules.Errors
)

// Place is a road, residential compound (小区) or landmark from the
// user-maintained places file, mapped to the divisions it lies in.
type Place struct {
	Name    string
	Kind    string   // KindRoad, KindCompound or KindLandmark
	Aliases []string // other names for it, matched like Name
	// In names the divisions it lies in: codes or names (full or short) of
	// communities, streets or districts. A road on a border names several.
	In  []string
	Pos Pos // where the entry starts
	// InPos are the positions of the In entries, for errors found later.
	InPos []Pos
}

// sections of a places file and the kind of place each holds.
var sections = []struct{ key, kind string }{
	{"roads", KindRoad},
	{"compounds", KindCompound},
	{"landmarks", KindLandmark},
}

// ParsePlaces reads a places file:
//
//	roads:
//	  - name: 湖东路
//	    in: [花山区, 雨山区]   # a border road: several divisions
//	compounds:
//	  - name: 阳湖花园
//	    aliases: [阳湖花园小区]
//	    in: 阳湖社区           # one division: a scalar is fine
//	landmarks:
//	  - {name: 大华国际广场, in: 雨山区}
//
// Every section is optional; an empty file has no places. Unknown keys,
// missing or empty names, names shorter than two characters, a missing "in",
// and names or aliases used twice in the file are errors. All errors are
// returned at once as Errors, each with file:line:col. Whether the divisions
// named in "in" exist is checked by New.
func ParsePlaces(name string, data []byte) ([]Place, error) {
	p := &placesParser{file: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Errors{p.yamlError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errf(&extra, "a places file holds one YAML document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	seen := map[string]Pos{}
	switch {
	case root.Kind == yaml.ScalarNode && root.Tag == "!!null":
		// An empty document: no places.
	case root.Kind != yaml.MappingNode:
		p.errf(root, "places file must be a mapping of roads, compounds and landmarks, not %s", kindName(root))
	default:
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			kind := ""
			for _, s := range sections {
				if k.Value == s.key {
					kind = s.kind
				}
			}
			if kind == "" {
				p.errf(k, "unknown key %q (want roads, compounds or landmarks)", k.Value)
				continue
			}
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				p.errf(v, "%s must be a list, not %s", k.Value, kindName(v))
				continue
			}
			for _, e := range v.Content {
				if pl, ok := p.place(e, kind, seen); ok {
					p.places = append(p.places, pl)
				}
			}
		}
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return p.places, nil
}

type placesParser struct {
	file   string
	places []Place
	errs   Errors
}

func (p *placesParser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

func (p *placesParser) errf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: p.pos(n), Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a YAML syntax error into an Error with the line yaml.v3
// reports (it gives no column).
func (p *placesParser) yamlError(err error) *Error {
	msg := err.Error()
	pos := Pos{File: p.file, Line: 1, Col: 1}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			pos.Line = n
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{Pos: pos, Msg: "invalid yaml: " + msg}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// str returns a non-empty string scalar, or reports why it is not one.
func (p *placesParser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, "%s must be a string, not %s", what, kindName(n))
		return "", false
	}
	s := strings.TrimSpace(n.Value)
	if s == "" {
		p.errf(n, "%s is empty", what)
		return "", false
	}
	return s, true
}

// name returns a place name or alias and claims it in seen.
func (p *placesParser) name(n *yaml.Node, what string, seen map[string]Pos) (string, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return "", false
	}
	if shortEnough(s) {
		p.errf(n, "%s %q is too short: a place name needs at least two characters", what, s)
		return "", false
	}
	if strings.ContainsAny(s, " \t\n") {
		p.errf(n, "%s %q contains blanks", what, s)
		return "", false
	}
	if prev, dup := seen[s]; dup {
		p.errf(n, "%q is already a place at %s", s, prev)
		return "", false
	}
	seen[s] = p.pos(n)
	return s, true
}

func (p *placesParser) place(n *yaml.Node, kind string, seen map[string]Pos) (Place, bool) {
	pl := Place{Kind: kind, Pos: p.pos(n)}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "a %s must be a mapping with name and in, not %s", kind, kindName(n))
		return pl, false
	}
	ok := true
	var nameNode, inNode *yaml.Node
	var aliasNodes []*yaml.Node
	keys := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if keys[k.Value] {
			p.errf(k, "key %q given twice", k.Value)
			ok = false
			continue
		}
		keys[k.Value] = true
		switch k.Value {
		case "name":
			nameNode = v
		case "in":
			inNode = v
		case "aliases":
			switch v.Kind {
			case yaml.SequenceNode:
				aliasNodes = v.Content
			case yaml.ScalarNode:
				if v.Tag != "!!null" {
					aliasNodes = []*yaml.Node{v}
				}
			default:
				p.errf(v, "aliases must be a list of names, not %s", kindName(v))
				ok = false
			}
		default:
			p.errf(k, "unknown key %q in a %s (want name, aliases, in)", k.Value, kind)
			ok = false
		}
	}
	if nameNode == nil {
		p.errf(n, "a %s needs a name", kind)
		return pl, false
	}
	name, good := p.name(nameNode, "name", seen)
	ok = ok && good
	pl.Name = name
	for _, a := range aliasNodes {
		alias, good := p.name(a, "alias", seen)
		ok = ok && good
		if good {
			pl.Aliases = append(pl.Aliases, alias)
		}
	}
	switch {
	case inNode == nil:
		p.errf(n, "%s %q needs in: the community, street or district it lies in", kind, name)
		ok = false
	case inNode.Kind == yaml.SequenceNode:
		if len(inNode.Content) == 0 {
			p.errf(inNode, "%s %q: in is empty", kind, name)
			ok = false
		}
		for _, e := range inNode.Content {
			s, good := p.str(e, "in")
			ok = ok && good
			if good {
				pl.In = append(pl.In, s)
				pl.InPos = append(pl.InPos, p.pos(e))
			}
		}
	default:
		s, good := p.str(inNode, "in")
		ok = ok && good
		if good {
			pl.In = []string{s}
			pl.InPos = []Pos{p.pos(inNode)}
		}
	}
	return pl, ok
}
