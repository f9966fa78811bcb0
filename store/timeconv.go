package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// sqliteTimeLayout is how SQLite stores times: UTC, fixed width, microsecond
// precision. Fixed width makes text order chronological order, so SQL
// comparisons such as `claim_by < $1` mean the same on both dialects.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// normTime is the one precision and zone both dialects keep: PostgreSQL's
// TIMESTAMPTZ holds microseconds and truncates finer digits.
func normTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// formatSQLiteTime formats t the way the SQLite schema stores times.
func formatSQLiteTime(t time.Time) string { return normTime(t).Format(sqliteTimeLayout) }

// parseSQLiteTime reads a time stored by formatSQLiteTime, and, leniently,
// the forms SQLite's own date functions produce.
func parseSQLiteTime(s string) (time.Time, error) {
	for _, layout := range []string{sqliteTimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time", s)
}

// sqliteArgs converts arguments into what the SQLite schema stores: times as
// sortable text, JSON as text (not a BLOB, so it compares as text).
func sqliteArgs(args []any) []any {
	return convertArgs(args, func(t time.Time) any { return formatSQLiteTime(t) })
}

// pgArgs normalises time arguments to UTC microseconds (so that a value
// written and read back compares equal on both dialects) and passes JSON as
// text, which is how both schemas store it.
func pgArgs(args []any) []any {
	return convertArgs(args, func(t time.Time) any { return normTime(t) })
}

// convertArgs returns args with times (and non-nil time pointers) passed
// through conv and JSON as text; nil pointers and nil JSON become NULL. The
// slice is copied only when something changes.
func convertArgs(args []any, conv func(time.Time) any) []any {
	out := args
	copied := false
	set := func(i int, v any) {
		if !copied {
			out = append([]any(nil), args...)
			copied = true
		}
		out[i] = v
	}
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			set(i, conv(v))
		case *time.Time:
			if v == nil {
				set(i, nil)
			} else {
				set(i, conv(*v))
			}
		case json.RawMessage:
			if v == nil {
				set(i, nil)
			} else {
				set(i, string(v))
			}
		}
	}
	return out
}

// sqliteScan scans through scan, converting stored text into time.Time,
// *time.Time, json.RawMessage and []byte targets.
func sqliteScan(scan func(dest ...any) error, dest []any) error {
	var fix []int
	holders := dest
	for i, d := range dest {
		switch d.(type) {
		case *time.Time, **time.Time, *json.RawMessage:
			if fix == nil {
				holders = append([]any(nil), dest...)
			}
			fix = append(fix, i)
			holders[i] = new(any)
		}
	}
	if err := scan(holders...); err != nil {
		return err
	}
	for _, i := range fix {
		v := *(holders[i].(*any))
		if err := assignSQLite(dest[i], v); err != nil {
			return fmt.Errorf("scan column %d: %w", i, err)
		}
	}
	return nil
}

func assignSQLite(dest, v any) error {
	switch d := dest.(type) {
	case *json.RawMessage:
		switch x := v.(type) {
		case nil:
			*d = nil
		case string:
			*d = json.RawMessage(x)
		case []byte:
			*d = append(json.RawMessage(nil), x...)
		default:
			return fmt.Errorf("cannot scan %T into json.RawMessage", v)
		}
		return nil
	case *time.Time:
		if v == nil {
			return fmt.Errorf("cannot scan NULL into time.Time (use *time.Time)")
		}
		t, err := sqliteTime(v)
		if err != nil {
			return err
		}
		*d = t
		return nil
	case **time.Time:
		if v == nil {
			*d = nil
			return nil
		}
		t, err := sqliteTime(v)
		if err != nil {
			return err
		}
		*d = &t
		return nil
	}
	return fmt.Errorf("unexpected scan target %T", dest)
}

func sqliteTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case string:
		return parseSQLiteTime(x)
	case []byte:
		return parseSQLiteTime(string(x))
	case time.Time:
		return normTime(x), nil
	}
	return time.Time{}, fmt.Errorf("cannot scan %T into a time", v)
}

// pgFixTimes puts scanned times into UTC; pgx returns TIMESTAMPTZ in the
// local zone.
func pgFixTimes(dest []any) {
	for _, d := range dest {
		switch t := d.(type) {
		case *time.Time:
			*t = t.UTC()
		case **time.Time:
			if *t != nil {
				u := (*t).UTC()
				*t = &u
			}
		}
	}
}
