package wechat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
)

// Fields name the fields of a submission record. The collection's layout is
// the mini-program's own design; only _id and _openid are platform fields.
// Dotted names reach into nested objects ("location.point").
type Fields struct {
	ID       string // default "_id"
	OpenID   string // default "_openid"
	Created  string // default "createdAt"; a $date, epoch number or date string
	Title    string // default "title"; optional in records
	Text     string // default "content"
	Images   string // default "images"; array of cloud:// file IDs or URLs
	Location string // default "location"; a geopoint or {latitude, longitude}
	Author   string // optional nickname field; default none
	Region   string // optional free-text area field; default none
}

// DefaultFields is the layout of reference §3.4's example collection.
func DefaultFields() Fields {
	return Fields{ID: "_id", OpenID: "_openid", Created: "createdAt", Title: "title", Text: "content", Images: "images", Location: "location"}
}

func (f Fields) withDefaults() Fields {
	d := DefaultFields()
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	set(&f.ID, d.ID)
	set(&f.OpenID, d.OpenID)
	set(&f.Created, d.Created)
	set(&f.Title, d.Title)
	set(&f.Text, d.Text)
	set(&f.Images, d.Images)
	set(&f.Location, d.Location)
	return f
}

// Created-time encodings: the cursor compares like with like, so it keeps
// the kind the records use.
const (
	kindDate   = "date"   // {"$date": …}
	kindNumber = "number" // epoch milliseconds or seconds
	kindString = "string" // ISO 8601 or "2006-01-02 15:04:05" (Beijing)
)

// Record is one decoded submission.
type Record struct {
	ID      string
	OpenID  string
	Title   string
	Text    string
	Author  string
	Region  string
	Images  []string
	Geo     *model.Geo
	Created time.Time
	// CreatedKind and CreatedLit say how the record stores its creation
	// time and the literal that selects it again in a query.
	CreatedKind string
	CreatedLit  string
	Raw         []byte
}

// DecodeRecord decodes one element of a databasequery "data" array after
// the outer string was unquoted: a record in (possibly extended) JSON.
// When the record is unusable the error says why, and the returned Record
// still carries ID and Created when they could be read, so the caller can
// move past it.
func DecodeRecord(raw []byte, f Fields) (Record, error) {
	f = f.withDefaults()
	rec := Record{Raw: raw}
	if !utf8.Valid(raw) {
		return rec, errors.New("record is not valid utf-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return rec, fmt.Errorf("record is not a json object: %w", err)
	}
	if dec.More() {
		return rec, errors.New("record has trailing data")
	}
	id, ok := extString(lookup(m, f.ID))
	if !ok || id == "" {
		return rec, fmt.Errorf("record has no %s", f.ID)
	}
	rec.ID = id
	created, kind, lit, err := extTime(lookup(m, f.Created))
	if err != nil {
		return rec, fmt.Errorf("record %s: %s: %w", id, f.Created, err)
	}
	rec.Created, rec.CreatedKind, rec.CreatedLit = created, kind, lit

	rec.OpenID, _ = extString(lookup(m, f.OpenID))
	rec.Title, _ = lookup(m, f.Title).(string)
	text, _ := lookup(m, f.Text).(string)
	rec.Title, text = strings.TrimSpace(rec.Title), strings.TrimSpace(text)
	switch {
	case text == "":
		rec.Text = rec.Title
	case rec.Title == "" || strings.HasPrefix(text, rec.Title):
		rec.Text = text
	default:
		rec.Text = rec.Title + "\n" + text
	}
	if rec.Text == "" {
		return rec, fmt.Errorf("record %s has no text", id)
	}
	if f.Author != "" {
		rec.Author, _ = lookup(m, f.Author).(string)
	}
	if f.Region != "" {
		rec.Region, _ = lookup(m, f.Region).(string)
	}
	rec.Images = images(lookup(m, f.Images))
	if loc := lookup(m, f.Location); loc != nil {
		g, err := geo(loc)
		if err != nil {
			return rec, fmt.Errorf("record %s: %s: %w", id, f.Location, err)
		}
		rec.Geo = g
	}
	return rec, nil
}

// Post turns a record into a post of the given source.
func (r Record) Post(source string, fetched time.Time) model.Post {
	return model.Post{
		ID:        model.PostID(model.ChannelWeChat, r.ID),
		Source:    source,
		Channel:   model.ChannelWeChat,
		NativeID:  r.ID,
		Author:    model.Author{ID: r.OpenID, Name: r.Author},
		Text:      r.Text,
		Images:    r.Images,
		Geo:       r.Geo,
		Region:    r.Region,
		CreatedAt: r.Created,
		FetchedAt: fetched,
		Raw:       json.RawMessage(r.Raw),
	}
}

// lookup follows a dotted path through nested objects.
func lookup(m map[string]any, path string) any {
	var v any = m
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = obj[part]; !ok {
			return nil
		}
	}
	return v
}

// extString reads a string or an extended-JSON ObjectId {"$oid": "…"}.
func extString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]any:
		if s, ok := x["$oid"].(string); ok && len(x) == 1 {
			return s, true
		}
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// extNumber reads a JSON number, an extended-JSON number ({"$numberLong":
// "…"}, $numberInt, $numberDouble, $numberDecimal) or a numeric string, and
// its literal.
func extNumber(v any) (float64, string, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	case map[string]any:
		if len(x) != 1 {
			return 0, "", false
		}
		for _, k := range []string{"$numberLong", "$numberInt", "$numberDouble", "$numberDecimal"} {
			if t, ok := x[k].(string); ok {
				s = t
			}
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, "", false
	}
	return f, strings.TrimSpace(s), true
}

// Bounds for plausible submission times (epoch milliseconds).
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func fromEpoch(f float64) (time.Time, error) {
	ms := f
	if math.Abs(f) < 1e11 { // seconds: no millisecond epoch since 1973 is this small
		ms = f * 1000
	}
	t := time.UnixMilli(int64(ms)).UTC()
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, fmt.Errorf("time %v out of range", f)
	}
	return t, nil
}

var stringLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006/01/02 15:04:05"}

func parseTimeString(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range stringLayouts {
		if t, err := time.ParseInLocation(l, s, beijing); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised time %q", s)
}

// extTime reads a creation time: {"$date": ms | "ISO" | {"$numberLong": "ms"}},
// an epoch number (ms or s), or a date string. It returns the kind of
// encoding and a query literal that selects the same value.
func extTime(v any) (t time.Time, kind, lit string, err error) {
	switch x := v.(type) {
	case nil:
		return t, "", "", errors.New("missing")
	case map[string]any:
		d, ok := x["$date"]
		if !ok {
			if f, l, ok := extNumber(x); ok {
				t, err = fromEpoch(f)
				return t, kindNumber, l, err
			}
			return t, "", "", errors.New("not a date")
		}
		if s, ok := d.(string); ok {
			t, err = parseTimeString(s)
		} else if f, _, ok := extNumber(d); ok {
			t, err = fromEpoch(f)
		} else {
			err = errors.New("bad $date")
		}
		if err != nil {
			return time.Time{}, "", "", err
		}
		return t, kindDate, "new Date(" + strconv.FormatInt(t.UnixMilli(), 10) + ")", nil
	case json.Number:
		f, lit, _ := extNumber(x)
		t, err = fromEpoch(f)
		return t, kindNumber, lit, err
	case string:
		if t, err = parseTimeString(x); err != nil {
			return t, "", "", err
		}
		q, _ := json.Marshal(x)
		return t, kindString, string(q), nil
	}
	return t, "", "", errors.New("not a date")
}

func images(v any) []string {
	var out []string
	add := func(x any) {
		switch y := x.(type) {
		case string:
			if y != "" {
				out = append(out, y)
			}
		case map[string]any:
			for _, k := range []string{"fileID", "fileId", "url", "tempFileURL"} {
				if s, ok := y[k].(string); ok && s != "" {
					out = append(out, s)
					return
				}
			}
		}
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			add(e)
		}
	default:
		add(x)
	}
	return out
}

// geo reads a location: a TCB geopoint ({"type":"Point","coordinates":[lon,
// lat]}, GeoJSON order, as db.Geo.Point(longitude, latitude) stores it) or
// the {latitude, longitude} object wx.getLocation / wx.chooseLocation return
// (GCJ-02). An empty object or null means no location.
func geo(v any) (*model.Geo, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not an object")
	}
	if len(m) == 0 {
		return nil, nil
	}
	var lat, lon float64
	if c, ok := m["coordinates"].([]any); ok {
		if len(c) != 2 {
			return nil, errors.New("point needs two coordinates")
		}
		var ok1, ok2 bool
		lon, _, ok1 = extNumber(c[0])
		lat, _, ok2 = extNumber(c[1])
		if !ok1 || !ok2 {
			return nil, errors.New("coordinates are not numbers")
		}
	} else {
		var ok1, ok2 bool
		lat, _, ok1 = extNumber(m["latitude"])
		lon, _, ok2 = extNumber(m["longitude"])
		if !ok1 || !ok2 {
			return nil, errors.New("no coordinates")
		}
	}
	if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return nil, fmt.Errorf("point %v,%v out of range", lat, lon)
	}
	return &model.Geo{Lat: lat, Lon: lon, System: "gcj02"}, nil
}
