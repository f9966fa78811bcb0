package store

import "strings"

// sqliteParams rewrites PostgreSQL-style $N placeholders into SQLite's
// numbered ?N parameters, leaving string literals, quoted identifiers and
// comments untouched. Both spellings bind the N-th argument, so a
// placeholder may be used more than once and in any order.
//
// PostgreSQL dollar-quoted strings ($tag$...$tag$) are not recognised: the
// shared SQL does not use them, and SQLite would not accept them anyway.
func sqliteParams(q string) string {
	if strings.IndexByte(q, '$') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q))
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := skipQuoted(q, i, c)
			b.WriteString(q[i:j])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			end := len(q)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(q[i:end])
			i = end
		case c == '$' && i+1 < len(q) && isDigit(q[i+1]):
			b.WriteByte('?')
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// skipQuoted returns the index just past the quoted token that starts at i
// with quote character c. A doubled quote inside is an escaped quote. An
// unterminated token runs to the end of q.
func skipQuoted(q string, i int, c byte) int {
	for j := i + 1; j < len(q); j++ {
		if q[j] != c {
			continue
		}
		if j+1 < len(q) && q[j+1] == c {
			j++
			continue
		}
		return j + 1
	}
	return len(q)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
