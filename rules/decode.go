package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks yaml.Node trees by hand so that every value keeps its
// position and every problem is collected instead of stopping the load.
type decoder struct {
	file string
	errs Errors
}

func (d *decoder) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: d.file, Line: 1, Col: 1}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar"
	case yaml.DocumentNode:
		return "a document"
	}
	return "nothing"
}

// field is one key of a mapping with the key's node (for errors about the
// key itself) and the value.
type field struct {
	key *yaml.Node
	val *yaml.Node
}

// mapping checks that n is a mapping whose keys are all in allowed and not
// repeated, and returns the fields by key.
func (d *decoder) mapping(n *yaml.Node, what string, allowed ...string) map[string]field {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.errf(n, "%s must be a mapping, got %s", what, kindName(n))
		}
		return nil
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		name := k.Value
		if k.Kind != yaml.ScalarNode {
			d.errf(k, "%s: keys must be scalars", what)
			continue
		}
		ok := false
		for _, a := range allowed {
			if a == name {
				ok = true
				break
			}
		}
		if !ok {
			d.errf(k, "%s: unknown key %q", what, name)
			continue
		}
		if prev, dup := out[name]; dup {
			d.errf(k, "%s: duplicate key %q (first at line %d)", what, name, prev.key.Line)
			continue
		}
		out[name] = field{key: k, val: v}
	}
	return out
}

func (d *decoder) seq(n *yaml.Node, what string) []*yaml.Node {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "%s must be a list, got %s", what, kindName(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

func (d *decoder) str(n *yaml.Node, what string) string {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errf(n, "%s must be a string, got %s", what, kindName(n))
		return ""
	}
	return n.Value
}

// nonEmpty is str that also rejects blank strings.
func (d *decoder) nonEmpty(n *yaml.Node, what string) string {
	s := d.str(n, what)
	if s == "" && resolve(n).Kind == yaml.ScalarNode && resolve(n).Tag != "!!null" {
		d.errf(n, "%s must not be empty", what)
	} else if s != "" && strings.TrimSpace(s) == "" {
		d.errf(n, "%s must not be blank", what)
		return ""
	}
	return strings.TrimSpace(s)
}

func (d *decoder) strList(n *yaml.Node, what string) []string {
	var out []string
	for _, c := range d.seq(n, what) {
		if s := d.nonEmpty(c, what+" entry"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errf(n, "%s must be true or false, got %q", what, n.Value)
		return false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b
}

// fraction reads a number in (0, 1].
func (d *decoder) fraction(n *yaml.Node, what string) float64 {
	n = resolve(n)
	f, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || err != nil || math.IsNaN(f) {
		d.errf(n, "%s must be a number, got %q", what, n.Value)
		return 0
	}
	if f <= 0 || f > 1 {
		d.errf(n, "%s must be in (0, 1], got %v", what, f)
		return 0
	}
	return f
}

// duration reads a positive Go duration ("24h", "90m"); days are written
// in hours.
func (d *decoder) duration(n *yaml.Node, what string) time.Duration {
	s := d.str(n, what)
	if s == "" {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errf(n, "%s: bad duration %q (use Go durations such as 4h or 90m)", what, s)
		return 0
	}
	if v <= 0 {
		d.errf(n, "%s: duration %q must be positive", what, s)
		return 0
	}
	return v
}
