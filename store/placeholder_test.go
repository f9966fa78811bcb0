package store

import (
	"testing"
)

func TestSQLiteParams(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = $1 AND c = $12`, `SELECT a FROM t WHERE b = ?1 AND c = ?12`},
		{`SELECT $2, $1, $2`, `SELECT ?2, ?1, ?2`},
		{`SELECT '$1', $1`, `SELECT '$1', ?1`},
		{`SELECT 'it''s $1', $1`, `SELECT 'it''s $1', ?1`},
		{`SELECT "col$1", $1`, `SELECT "col$1", ?1`},
		{`SELECT "a""$1", $1`, `SELECT "a""$1", ?1`},
		{"SELECT $1 -- $2 it's\n, $2", "SELECT ?1 -- $2 it's\n, ?2"},
		{`SELECT /* $1 ' */ $1`, `SELECT /* $1 ' */ ?1`},
		{`SELECT $ , $a, $`, `SELECT $ , $a, $`},
		{`SELECT 'unterminated $1`, `SELECT 'unterminated $1`},
		{`SELECT /* unterminated $1`, `SELECT /* unterminated $1`},
		{"SELECT $1 --", "SELECT ?1 --"},
		{`SELECT '马$1', $1`, `SELECT '马$1', ?1`},
	}
	for _, tt := range tests {
		if got := sqliteParams(tt.in); got != tt.want {
			t.Errorf("sqliteParams(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSQLiteParams checks the rewrite only ever turns a '$' that starts a
// placeholder into '?', never touches anything else, and is idempotent.
func FuzzSQLiteParams(f *testing.F) {
	for _, s := range []string{`SELECT $1`, `SELECT '$1', "$2", $3 -- $4`, `/* $1 */ $2`, `'it''s' $1`, `$`, `$$1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := sqliteParams(in)
		if len(out) != len(in) {
			t.Fatalf("length changed: %q -> %q", in, out)
		}
		for i := range in {
			if in[i] == out[i] {
				continue
			}
			if in[i] != '$' || out[i] != '?' || i+1 >= len(in) || !isDigit(in[i+1]) {
				t.Fatalf("byte %d changed %q -> %q: %q -> %q", i, in[i], out[i], in, out)
			}
		}
		if again := sqliteParams(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}
