package ingest

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/mashangban/mashangban/model"
)

// Bounds of the fields of a post on the posts log. A platform (or a replay
// file) may send anything; these keep one post's message well under the
// log's limit whatever it sent, so that no post can block its source. The
// text bound is far above any citizen's report; the others are far above
// any real ID, name or URL.
const (
	MaxIDBytes        = 256  // post ID, native ID, source name, author ID
	MaxNameRunes      = 100  // author name
	MaxRegionRunes    = 100  // the platform's region hint
	MaxURLBytes       = 2048 // the post's URL and each image URL
	MaxImages         = 20   // image URLs kept (Weibo allows 9, a mini-program form fewer)
	MaxGeoSystemBytes = 16   // "gcj02", "wgs84"
)

// UnfitError says why a post cannot be put on the posts log at all; it
// becomes a dead letter and the source moves on.
type UnfitError struct{ Reason string }

func (e *UnfitError) Error() string { return e.Reason }

// Clean makes every text field of p storable and bounded: NUL dropped
// (PostgreSQL refuses it in text), invalid UTF-8 replaced with U+FFFD, and
// each field cut to its bound. It reports whether bytes were cleaned, and
// adds the name of each field it cut or dropped to p.Cut. A post whose ID
// is empty or over MaxIDBytes cannot be cut without risking two posts
// sharing an ID: Clean returns an *UnfitError for it.
func Clean(p model.Post) (model.Post, bool, error) {
	cleaned := false
	clean := func(s string) string {
		c := storable(s)
		if c != s {
			cleaned = true
		}
		return c
	}
	p.ID, p.Source, p.NativeID = clean(p.ID), clean(p.Source), clean(p.NativeID)
	p.Channel = model.Channel(clean(string(p.Channel)))
	p.Author.ID, p.Author.Name = clean(p.Author.ID), clean(p.Author.Name)
	p.Text, p.Region, p.URL = clean(p.Text), clean(p.Region), clean(p.URL)
	if len(p.Images) > 0 {
		imgs := make([]string, len(p.Images))
		for i, u := range p.Images {
			imgs[i] = clean(u)
		}
		p.Images = imgs
	}
	if p.Geo != nil {
		g := *p.Geo
		g.System = clean(g.System)
		p.Geo = &g
	}
	if len(p.Raw) > 0 && !utf8.Valid(p.Raw) {
		p.Raw = []byte(strings.ToValidUTF8(string(p.Raw), "\uFFFD"))
		cleaned = true
	}

	if p.ID == "" {
		return p, cleaned, &UnfitError{Reason: "post has no id"}
	}
	if len(p.ID) > MaxIDBytes {
		return p, cleaned, &UnfitError{Reason: fmt.Sprintf("post id is %d bytes, over the limit of %d", len(p.ID), MaxIDBytes)}
	}
	cut := func(field string) { p.Cut = append(p.Cut, field) }
	if len(p.NativeID) > MaxIDBytes {
		p.NativeID = cutBytes(p.NativeID, MaxIDBytes)
		cut("native_id")
	}
	if len(p.Source) > MaxIDBytes {
		p.Source = cutBytes(p.Source, MaxIDBytes)
		cut("source")
	}
	if len(p.Channel) > MaxIDBytes {
		p.Channel = model.Channel(cutBytes(string(p.Channel), MaxIDBytes))
		cut("channel")
	}
	if len(p.Author.ID) > MaxIDBytes {
		p.Author.ID = cutBytes(p.Author.ID, MaxIDBytes)
		cut("author.id")
	}
	if s, ok := cutRunes(p.Author.Name, MaxNameRunes); ok {
		p.Author.Name = s
		cut("author.name")
	}
	if s, ok := cutRunes(p.Region, MaxRegionRunes); ok {
		p.Region = s
		cut("region")
	}
	if s, ok := cutRunes(p.Text, MaxPostRunes); ok {
		p.Text = s
		cut("text")
	}
	if len(p.URL) > MaxURLBytes {
		p.URL = ""
		cut("url")
	}
	if len(p.Images) > 0 {
		var keep []string
		for _, u := range p.Images {
			if len(u) <= MaxURLBytes && len(keep) < MaxImages {
				keep = append(keep, u)
			}
		}
		if len(keep) != len(p.Images) {
			p.Images = keep
			cut("images")
		}
	}
	if g := p.Geo; g != nil {
		if !finite(g.Lat) || !finite(g.Lon) || g.Lat < -90 || g.Lat > 90 || g.Lon < -180 || g.Lon > 180 {
			p.Geo = nil
			cut("geo")
		} else if len(g.System) > MaxGeoSystemBytes {
			g.System = cutBytes(g.System, MaxGeoSystemBytes)
			cut("geo.system")
		}
	}
	return p, cleaned, nil
}

// storable is s as both databases take it in a text column.
func storable(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// cutBytes cuts s to at most n bytes without splitting a character.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// cutRunes cuts s to n characters and marks the cut with "…"; ok says
// whether it was cut.
func cutRunes(s string, n int) (string, bool) {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s, false
	}
	i, k := 0, 0
	for i = range s {
		if k == n {
			break
		}
		k++
	}
	return s[:i] + "…", true
}
