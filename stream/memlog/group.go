package memlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// group is a consumer group of one topic: its committed offsets and which
// partitions a member is consuming.
//
// Commits are coalesced: a consumer marks an offset handled and moves on, and
// a flusher writes the offsets file whenever it changed, so one file write
// (two fsyncs) covers every message handled meanwhile, across partitions.
// Consume writes the final offsets before it returns. After a crash, the
// messages handled since the last completed write are delivered again, which
// the stream.Log contract allows (a crash between a handler's return and
// the commit).
type group struct {
	name string
	path string // offsets file

	mu      sync.Mutex
	handled []int64 // per partition, the offset of the next record to deliver
	kick    chan struct{}

	writeMu sync.Mutex // serialises writes of the file; guards written
	written []int64    // offsets as last written to the file

	// owners holds one token per partition: a Consume call takes the token of
	// a partition before reading it, so two members of the group never read
	// the same partition at once; a second member waits as a standby.
	owners []chan struct{}
}

// offsetsFile is the on-disk form of a group's committed offsets.
type offsetsFile struct {
	Group   string  `json:"group"`
	Offsets []int64 `json:"offsets"`
}

func groupFileName(name string) string { return "group-" + url.PathEscape(name) + ".json" }

func openGroup(dir, name string, partitions int) (*group, error) {
	g := &group{
		name:    name,
		path:    filepath.Join(dir, groupFileName(name)),
		handled: make([]int64, partitions),
		written: make([]int64, partitions),
		kick:    make(chan struct{}, 1),
		owners:  make([]chan struct{}, partitions),
	}
	for i := range g.owners {
		g.owners[i] = make(chan struct{}, 1)
	}
	b, err := os.ReadFile(g.path)
	if errors.Is(err, fs.ErrNotExist) {
		return g, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read offsets of group %q: %w", name, err)
	}
	var of offsetsFile
	if err := json.Unmarshal(b, &of); err != nil {
		return nil, fmt.Errorf("parse offsets of group %q in %s: %w", name, g.path, err)
	}
	if of.Group != name {
		return nil, fmt.Errorf("offsets file %s belongs to group %q, not %q", g.path, of.Group, name)
	}
	copy(g.handled, of.Offsets)
	copy(g.written, of.Offsets)
	return g, nil
}

// offset is where a member taking over partition starts.
func (g *group) offset(partition int) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.handled[partition]
}

// commit records that every record of partition before next is handled and
// wakes the flusher.
func (g *group) commit(partition int, next int64) {
	g.mu.Lock()
	if next > g.handled[partition] {
		g.handled[partition] = next
	}
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// flush writes the handled offsets if they changed since the last write. The
// file is replaced atomically (write a temporary file, fsync, rename, fsync
// the directory), so a crash leaves either the old or the new offsets.
func (g *group) flush() error {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	g.mu.Lock()
	offsets := slices.Clone(g.handled)
	g.mu.Unlock()
	if slices.Equal(offsets, g.written) {
		return nil
	}
	b, err := json.Marshal(offsetsFile{Group: g.name, Offsets: offsets})
	if err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", g.name, err)
	}
	if err := writeFileAtomic(g.path, b); err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", g.name, err)
	}
	g.written = offsets
	return nil
}

// flusher writes offsets as they change until ctx is done.
func (g *group) flusher(ctx context.Context) error {
	for {
		select {
		case <-g.kick:
			if err := g.flush(); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
