//go:build ignore

// gen_data copies the data the segmenter embeds from the gse module that
// go.mod names (run from classify/segment: go generate):
//
//	data/zh_s.txt      gse's simplified-Chinese dictionary, byte for byte
//	data/hmm_emit.txt  gse's HMM emission model (hmm/prob_emit.go), as text
//	data/LICENSE-gse   gse's licence
//
// TestSameAsGse then checks that the package cuts as that gse does.
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/go-ego/gse").Output()
	if err != nil {
		log.Fatalf("find gse: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	copyFile(filepath.Join(dir, "data", "dict", "zh", "s_1.txt"), filepath.Join("data", "zh_s.txt"))
	copyFile(filepath.Join(dir, "LICENSE"), filepath.Join("data", "LICENSE-gse"))
	emit, err := emission(filepath.Join(dir, "hmm", "prob_emit.go"))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("data", "hmm_emit.txt"), emit, 0o644); err != nil {
		log.Fatal(err)
	}
}

func copyFile(from, to string) {
	data, err := os.ReadFile(from)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		log.Fatal(err)
	}
}

// emission reads the map literals probEmit['B'] = map[rune]float64{...}
// (and E, M, S) and writes one line per character: the character and its
// log emission probability in the states B, M, E and S, "-" where gse's map
// has none. The values are printed in the shortest form that reads back as
// the same float64.
func emission(path string) ([]byte, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	states := "BMES"
	probs := map[rune]*[4]string{}
	found := 0
	ast.Inspect(f, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		idx, ok := as.Lhs[0].(*ast.IndexExpr)
		if !ok {
			return true
		}
		key, ok := idx.Index.(*ast.BasicLit)
		lit, ok2 := as.Rhs[0].(*ast.CompositeLit)
		if !ok || !ok2 || key.Kind != token.CHAR {
			return true
		}
		st, _, _, err := strconv.UnquoteChar(key.Value[1:len(key.Value)-1], '\'')
		if err != nil || !strings.ContainsRune(states, st) {
			log.Fatalf("unexpected state %s", key.Value)
		}
		found++
		for _, elt := range lit.Elts {
			kv := elt.(*ast.KeyValueExpr)
			k := kv.Key.(*ast.BasicLit)
			r, _, _, err := strconv.UnquoteChar(k.Value[1:len(k.Value)-1], '\'')
			if err != nil {
				log.Fatalf("key %s: %v", k.Value, err)
			}
			v, err := number(kv.Value)
			if err != nil {
				log.Fatalf("value of %s: %v", k.Value, err)
			}
			if probs[r] == nil {
				probs[r] = &[4]string{"-", "-", "-", "-"}
			}
			probs[r][strings.IndexRune(states, st)] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		return true
	})
	if found != 4 {
		return nil, fmt.Errorf("%s: %d emission maps, want 4", path, found)
	}
	runes := make([]rune, 0, len(probs))
	for r := range probs {
		runes = append(runes, r)
	}
	slices.Sort(runes)
	var b bytes.Buffer
	b.WriteString("# HMM emission log probabilities of gse (hmm/prob_emit.go, from jieba): character, B, M, E, S\n")
	for _, r := range runes {
		p := probs[r]
		fmt.Fprintf(&b, "%c\t%s\t%s\t%s\t%s\n", r, p[0], p[1], p[2], p[3])
	}
	return b.Bytes(), nil
}

func number(e ast.Expr) (float64, error) {
	neg := false
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.SUB {
		neg, e = true, u.X
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || (lit.Kind != token.FLOAT && lit.Kind != token.INT) {
		return 0, fmt.Errorf("not a number literal")
	}
	v, err := strconv.ParseFloat(lit.Value, 64)
	if neg {
		v = -v
	}
	return v, err
}
