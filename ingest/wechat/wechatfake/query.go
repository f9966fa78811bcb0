package wechatfake

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The cloud database statement language, as far as the daemon and the
// reference use it: db.collection("c") followed by where, orderBy, skip,
// limit, field, doc and a final get, count or update; conditions are object
// literals whose values are literals or db.command (bound to _) operators
// gt, gte, lt, lte, eq, neq, in, nin, exists, or, and; new Date(ms) is a
// date.
// Anything else is an illegal statement, so a query the source builds
// wrongly fails here as it would on the platform.

type statement struct {
	coll   string
	where  any // map[string]any or cond
	orders []order
	skip   int
	limit  int // -1 when not given
	fields map[string]any
	docID  *string
	op     string // get, count, update, remove
	update map[string]any
}

type order struct {
	field string
	desc  bool
}

type cond struct {
	op   string
	args []any
}

type token struct {
	kind string // ident, str, num, punct, eof
	text string
	val  any
}

func lex(src string) ([]token, error) {
	var toks []token
	rs := []rune(src)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' {
					j++
					if j >= len(rs) {
						return nil, errors.New("unterminated string")
					}
					switch rs[j] {
					case 'n':
						b.WriteRune('\n')
					case 't':
						b.WriteRune('\t')
					case 'r':
						b.WriteRune('\r')
					case 'b':
						b.WriteRune('\b')
					case 'f':
						b.WriteRune('\f')
					case 'u':
						if j+4 >= len(rs) {
							return nil, errors.New("bad \\u escape")
						}
						n, err := strconv.ParseUint(string(rs[j+1:j+5]), 16, 32)
						if err != nil {
							return nil, errors.New("bad \\u escape")
						}
						j += 4
						if n >= 0xD800 && n < 0xDC00 && j+6 < len(rs) && rs[j+1] == '\\' && rs[j+2] == 'u' {
							lo, err := strconv.ParseUint(string(rs[j+3:j+7]), 16, 32)
							if err == nil && lo >= 0xDC00 && lo < 0xE000 {
								n = (n-0xD800)<<10 + (lo - 0xDC00) + 0x10000
								j += 6
							}
						}
						b.WriteRune(rune(n))
					default:
						b.WriteRune(rs[j])
					}
					continue
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, errors.New("unterminated string")
			}
			toks = append(toks, token{kind: "str", val: b.String()})
			i = j + 1
		case r == '-' || unicode.IsDigit(r):
			j := i + 1
			for j < len(rs) && (unicode.IsDigit(rs[j]) || strings.ContainsRune(".eE+-", rs[j])) {
				j++
			}
			f, err := strconv.ParseFloat(string(rs[i:j]), 64)
			if err != nil {
				return nil, fmt.Errorf("bad number %q", string(rs[i:j]))
			}
			toks = append(toks, token{kind: "num", val: f})
			i = j
		case r == '_' || r == '$' || unicode.IsLetter(r):
			j := i + 1
			for j < len(rs) && (rs[j] == '_' || rs[j] == '$' || unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
				j++
			}
			toks = append(toks, token{kind: "ident", text: string(rs[i:j])})
			i = j
		case strings.ContainsRune("(){}[],:.", r):
			toks = append(toks, token{kind: "punct", text: string(r)})
			i++
		default:
			return nil, fmt.Errorf("unexpected %q", r)
		}
	}
	return append(toks, token{kind: "eof"}), nil
}

type parser struct {
	toks []token
	pos  int
	now  time.Time
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != "eof" {
		p.pos++
	}
	return t
}

func (p *parser) expect(punct string) error {
	if t := p.next(); t.kind != "punct" || t.text != punct {
		return fmt.Errorf("expected %q", punct)
	}
	return nil
}

// value kinds produced while evaluating
type dbRef struct{}
type cmdRef struct{}

// expr parses and evaluates one expression.
func (p *parser) expr() (any, error) {
	v, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == "punct" && p.peek().text == "." {
		p.next()
		name := p.next()
		if name.kind != "ident" {
			return nil, errors.New("expected a name after '.'")
		}
		if p.peek().kind == "punct" && p.peek().text == "(" {
			args, err := p.args("(", ")")
			if err != nil {
				return nil, err
			}
			if v, err = p.call(v, name.text, args); err != nil {
				return nil, err
			}
			continue
		}
		if _, ok := v.(dbRef); ok && name.text == "command" {
			v = cmdRef{}
			continue
		}
		return nil, fmt.Errorf("unknown member %q", name.text)
	}
	return v, nil
}

func (p *parser) args(open, close string) ([]any, error) {
	if err := p.expect(open); err != nil {
		return nil, err
	}
	var out []any
	if p.peek().kind == "punct" && p.peek().text == close {
		p.next()
		return out, nil
	}
	for {
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		t := p.next()
		if t.kind == "punct" && t.text == close {
			return out, nil
		}
		if t.kind != "punct" || t.text != "," {
			return nil, fmt.Errorf("expected ',' or %q", close)
		}
	}
}

func (p *parser) primary() (any, error) {
	t := p.next()
	switch t.kind {
	case "str", "num":
		return t.val, nil
	case "punct":
		switch t.text {
		case "{":
			p.pos--
			return p.object()
		case "[":
			p.pos--
			return p.args("[", "]")
		}
	case "ident":
		switch t.text {
		case "db":
			return dbRef{}, nil
		case "_":
			return cmdRef{}, nil
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		case "new":
			if n := p.next(); n.kind != "ident" || n.text != "Date" {
				return nil, errors.New("only new Date(…) is supported")
			}
			args, err := p.args("(", ")")
			if err != nil {
				return nil, err
			}
			if len(args) == 0 {
				return p.now, nil
			}
			switch a := args[0].(type) {
			case float64:
				return time.UnixMilli(int64(a)).UTC(), nil
			case string:
				tm, err := time.Parse(time.RFC3339Nano, a)
				if err != nil {
					return nil, fmt.Errorf("bad date %q", a)
				}
				return tm.UTC(), nil
			}
			return nil, errors.New("bad new Date argument")
		}
	}
	return nil, fmt.Errorf("unexpected %s %q", t.kind, t.text)
}

func (p *parser) object() (map[string]any, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	m := map[string]any{}
	if p.peek().kind == "punct" && p.peek().text == "}" {
		p.next()
		return m, nil
	}
	for {
		k := p.next()
		var key string
		switch k.kind {
		case "ident":
			key = k.text
		case "str":
			key = k.val.(string)
		default:
			return nil, errors.New("expected a key")
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		m[key] = v
		t := p.next()
		if t.kind == "punct" && t.text == "}" {
			return m, nil
		}
		if t.kind != "punct" || t.text != "," {
			return nil, errors.New("expected ',' or '}'")
		}
	}
}

func (p *parser) call(recv any, name string, args []any) (any, error) {
	switch r := recv.(type) {
	case dbRef:
		switch name {
		case "collection":
			if len(args) != 1 {
				return nil, errors.New("collection takes one name")
			}
			s, ok := args[0].(string)
			if !ok {
				return nil, errors.New("collection name must be a string")
			}
			return &statement{coll: s, limit: -1}, nil
		case "serverDate":
			return p.now, nil
		}
	case cmdRef:
		switch name {
		case "gt", "gte", "lt", "lte", "eq", "neq":
			if len(args) != 1 {
				return nil, fmt.Errorf("%s takes one value", name)
			}
			return cond{op: name, args: args}, nil
		case "exists":
			if _, ok := arg[bool](args, 0); !ok || len(args) != 1 {
				return nil, errors.New("exists takes true or false")
			}
			return cond{op: name, args: args}, nil
		case "in", "nin":
			if len(args) != 1 {
				return nil, fmt.Errorf("%s takes one array", name)
			}
			arr, ok := args[0].([]any)
			if !ok {
				return nil, fmt.Errorf("%s takes an array", name)
			}
			return cond{op: name, args: arr}, nil
		case "or", "and":
			if len(args) == 1 {
				if arr, ok := args[0].([]any); ok {
					return cond{op: name, args: arr}, nil
				}
			}
			return cond{op: name, args: args}, nil
		}
	case *statement:
		if r.op != "" {
			return nil, fmt.Errorf("%s after %s", name, r.op)
		}
		switch name {
		case "where":
			if len(args) != 1 {
				return nil, errors.New("where takes one condition")
			}
			r.where = args[0]
			return r, nil
		case "orderBy":
			f, ok1 := arg[string](args, 0)
			d, ok2 := arg[string](args, 1)
			if len(args) != 2 || !ok1 || !ok2 || (d != "asc" && d != "desc") {
				return nil, errors.New(`orderBy takes a field and "asc" or "desc"`)
			}
			r.orders = append(r.orders, order{field: f, desc: d == "desc"})
			return r, nil
		case "skip", "limit":
			n, ok := arg[float64](args, 0)
			if len(args) != 1 || !ok || n < 0 || n != float64(int(n)) {
				return nil, fmt.Errorf("%s takes a whole number", name)
			}
			if name == "skip" {
				r.skip = int(n)
			} else {
				r.limit = int(n)
			}
			return r, nil
		case "field":
			m, ok := arg[map[string]any](args, 0)
			if len(args) != 1 || !ok {
				return nil, errors.New("field takes an object")
			}
			r.fields = m
			return r, nil
		case "doc":
			id, ok := arg[string](args, 0)
			if len(args) != 1 || !ok {
				return nil, errors.New("doc takes an id")
			}
			r.docID = &id
			return r, nil
		case "get", "count", "remove":
			if len(args) != 0 {
				return nil, fmt.Errorf("%s takes no arguments", name)
			}
			r.op = name
			return r, nil
		case "update":
			m, ok := arg[map[string]any](args, 0)
			if !ok || len(args) != 1 {
				return nil, errors.New("update takes {data: …}")
			}
			data, ok := m["data"].(map[string]any)
			if !ok {
				return nil, errors.New("update takes {data: …}")
			}
			r.op, r.update = "update", data
			return r, nil
		}
	}
	return nil, fmt.Errorf("unknown call %s", name)
}

func arg[T any](args []any, i int) (T, bool) {
	var zero T
	if i >= len(args) {
		return zero, false
	}
	v, ok := args[i].(T)
	return v, ok
}

// parseStatement parses a whole query.
func parseStatement(q string, now time.Time) (*statement, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, now: now}
	v, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != "eof" {
		return nil, errors.New("trailing input")
	}
	st, ok := v.(*statement)
	if !ok || st.op == "" {
		return nil, errors.New("statement must end in get(), count(), update() or remove()")
	}
	return st, nil
}

// matches reports whether rec satisfies a where condition.
func matches(rec map[string]any, c any) bool {
	switch x := c.(type) {
	case nil:
		return true
	case map[string]any:
		for k, want := range x {
			if !fieldMatches(lookup(rec, k), want) {
				return false
			}
		}
		return true
	case cond:
		switch x.op {
		case "or":
			for _, a := range x.args {
				if matches(rec, a) {
					return true
				}
			}
			return false
		case "and":
			for _, a := range x.args {
				if !matches(rec, a) {
					return false
				}
			}
			return true
		}
	}
	return false
}

func fieldMatches(v, want any) bool {
	c, ok := want.(cond)
	if !ok {
		cmp, ok := compare(v, want)
		return ok && cmp == 0
	}
	switch c.op {
	case "exists":
		return (v != nil) == c.args[0].(bool)
	case "in", "nin":
		found := false
		for _, a := range c.args {
			if r, ok := compare(v, a); ok && r == 0 {
				found = true
			}
		}
		return found == (c.op == "in")
	case "or":
		for _, a := range c.args {
			if fieldMatches(v, a) {
				return true
			}
		}
		return false
	case "and":
		for _, a := range c.args {
			if !fieldMatches(v, a) {
				return false
			}
		}
		return true
	}
	r, ok := compare(v, c.args[0])
	if !ok {
		return c.op == "neq"
	}
	switch c.op {
	case "gt":
		return r > 0
	case "gte":
		return r >= 0
	case "lt":
		return r < 0
	case "lte":
		return r <= 0
	case "eq":
		return r == 0
	case "neq":
		return r != 0
	}
	return false
}

// compare orders two values of the same type; ok is false otherwise
// (MongoDB compares only like with like in conditions).
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok {
			return cmpOrdered(x, y), true
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), true
		}
	case bool:
		if y, ok := b.(bool); ok && x == y {
			return 0, true
		} else if ok {
			return 1, true
		}
	case nil:
		if b == nil {
			return 0, true
		}
	}
	return 0, false
}

func cmpOrdered[T float64 | int](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sortRank is MongoDB's order of types when sorting: missing/null first.
func sortRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case float64:
		return 1
	case string:
		return 2
	case map[string]any:
		return 3
	case []any:
		return 4
	case bool:
		return 5
	case time.Time:
		return 6
	}
	return 7
}

func lookup(m map[string]any, path string) any {
	var v any = m
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[part]
	}
	return v
}

// set assigns a dotted path, creating objects on the way.
func set(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, part := range parts[:len(parts)-1] {
		next, ok := m[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[part] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}
