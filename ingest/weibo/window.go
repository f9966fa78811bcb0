package weibo

import (
	"slices"
)

// window is the resume state of a feed that can only be paged by page
// number (the m.weibo.cn search container, search/topics). Such pages shift
// while they are read: new posts push items down (repeats), deletions pull
// them up (an item slides onto a page already read). So the window does not
// trust positions. It remembers the IDs it has handed out recently, and a walk
// from page 1 goes on until a whole page is known. An item that slid up is
// still unknown, so the next walk finds it on an earlier page.
//
// Weibo post IDs grow with time, so the set is bounded by dropping the
// smallest IDs when a walk ends: everything below Floor counts as known.
// Pruning waits for the end of the walk because a walk goes from new to old:
// pruning mid-walk would raise Floor above the posts still to be read. During
// a walk the set holds at most limit + maxPages × page size IDs.
type window struct {
	HW    int64   `json:"hw,omitempty"` // highest ID handed out
	Floor int64   `json:"fl,omitempty"` // IDs below this are known
	Seen  []int64 `json:"s,omitempty"`  // recent IDs, ascending
	// Start is the unix time before which posts count as known; it is set
	// when a source starts from the empty cursor (the backfill horizon).
	Start int64 `json:"st,omitempty"`
	// Page is the next page of the walk in progress; 0 means the next poll
	// starts a new walk at page 1.
	Page int `json:"p,omitempty"`
}

// known reports whether a post was handed out already (or is older than the
// window cares about).
func (w *window) known(id int64, createdUnix int64) bool {
	if id < w.Floor || (w.Start != 0 && createdUnix < w.Start) {
		return true
	}
	_, ok := slices.BinarySearch(w.Seen, id)
	return ok
}

// add records id as handed out.
func (w *window) add(id int64) {
	if id > w.HW {
		w.HW = id
	}
	i, ok := slices.BinarySearch(w.Seen, id)
	if ok {
		return
	}
	w.Seen = slices.Insert(w.Seen, i, id)
}

// prune keeps the newest limit IDs and raises Floor past the dropped ones.
// It is called between walks only.
func (w *window) prune(limit int) {
	if limit > 0 && len(w.Seen) > limit {
		drop := len(w.Seen) - limit
		w.Floor = max(w.Floor, w.Seen[drop-1]+1)
		w.Seen = slices.Delete(w.Seen, 0, drop)
	}
}

// pageItem is what the walk needs to know about one item on a page.
type pageItem struct {
	id      int64
	created int64 // unix seconds
}

// step applies one fetched page to the window and returns which items are new
// (by index) and whether the walk goes on to the next page.
//
// The walk stops when the page is entirely known, when the platform says it
// was the last page, or when maxPages is reached. A page with no posts at all
// (only ads or user cards) does not end the walk unless it is the last.
func (w *window) step(page int, items []pageItem, lastPage bool, maxPages int) (fresh []int, more bool) {
	for i, it := range items {
		if w.known(it.id, it.created) {
			continue
		}
		fresh = append(fresh, i)
		w.add(it.id)
	}
	allOld := len(items) > 0 && len(fresh) == 0
	if allOld || lastPage || page >= maxPages {
		w.Page = 0
		return fresh, false
	}
	w.Page = page + 1
	return fresh, true
}
