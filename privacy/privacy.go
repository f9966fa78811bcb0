// Package privacy keeps citizens' phone numbers and ID numbers out of what
// mashangban writes for anyone but the department handling a case: log
// lines, metric labels, reports. Mask hides them in a string; Handler
// applies Mask to every log record the daemon writes.
//
// It is not for access control (who may read a case is the HTTP layer's
// business) and it does not find names or addresses: only numbers.
package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// reNumber finds, in this order of alternatives:
//   - identifiers that look like numbers but are not personal: a Weibo post
//     ID (16 digits after "weibo:"), a case number (MSB-20261126-0042) and a
//     triage reference (T-20261126-0001); these are kept;
//   - a landline with its area code in brackets: (0555)2345678;
//   - a phone or ID number given after a word that says so (电话, 手机, tel …)
//     with 7 or 8 digits: a local landline without area code;
//   - any run of 11 or more digits, with or without spaces or dashes between
//     them, half- or full-width, optionally ending in X: mobile numbers
//     (with or without +86), landlines with area code (0555-2345678),
//     18-character ID numbers, bank cards.
var reNumber = regexp.MustCompile(
	`weibo:[0-9]{16}\b|\b(?:MSB|T)-[0-9]{8}-[0-9]{4,}\b` +
		`|[(（]0[0-9]{2,3}[)）][ -]?[0-9]{7,8}\b` +
		`|(?i:电话|手机|座机|联系方式|tel|phone)[:：]?[ ]*[0-9]{7,8}\b` +
		`|[0-9０-９](?:[ -]?[0-9０-９]){10,}[Xx]?`)

// Mask returns s with every phone and ID number hidden: the first three and
// the last four digits stay (138****5678, as Chinese receipts print them),
// the rest become *. A landline without area code after a keyword keeps
// the keyword and its last two digits.
func Mask(s string) string {
	if !hasDigit(s) {
		return s
	}
	return reNumber.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "weibo:") || strings.HasPrefix(m, "MSB-") || strings.HasPrefix(m, "T-") {
			return m
		}
		// Split off a leading keyword or bracketed area code.
		i := strings.IndexFunc(m, isDigit)
		prefix, num := m[:i], m[i:]
		var ds []rune
		for _, r := range num {
			if isDigit(r) || r == 'X' || r == 'x' {
				ds = append(ds, r)
			}
		}
		if strings.ContainsAny(prefix, "(（") || len(ds) < 11 {
			// A landline: keep the last two digits only.
			open := strings.IndexAny(prefix, "(（")
			if open >= 0 {
				prefix = prefix[:open]
			}
			return prefix + strings.Repeat("*", len(ds)-2) + string(ds[len(ds)-2:])
		}
		return prefix + string(ds[:3]) + strings.Repeat("*", len(ds)-7) + string(ds[len(ds)-4:])
	})
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' || r >= '０' && r <= '９' }

func hasDigit(s string) bool { return strings.IndexFunc(s, isDigit) >= 0 }

// Handler is a slog.Handler that masks phone and ID numbers in the message
// and in every attribute value (strings, errors, anything printed) before
// the next handler sees the record. Times, durations and numbers too short
// to be a phone number pass as they are.
type Handler struct{ next slog.Handler }

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler { return &Handler{next: next} }

// Logger returns l with its handler wrapped in a Handler (l itself if it
// already is one).
func Logger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(*Handler); ok {
		return l
	}
	return slog.New(NewHandler(l.Handler()))
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Mask(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return &Handler{next: h.next.WithAttrs(masked)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name)}
}

func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Mask(v.String()))
	case slog.KindGroup:
		g := v.Group()
		masked := make([]any, len(g))
		for i, ga := range g {
			masked[i] = maskAttr(ga)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindInt64, slog.KindUint64:
		// A phone number stored as a number.
		if s := v.String(); Mask(s) != s {
			return slog.String(a.Key, Mask(s))
		}
		return slog.Attr{Key: a.Key, Value: v}
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		case []byte:
			s = string(x)
		default:
			s = fmt.Sprint(x)
		}
		if m := Mask(s); m != s {
			return slog.String(a.Key, m)
		}
		return slog.Attr{Key: a.Key, Value: v}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
