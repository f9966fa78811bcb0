package memlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
)

// group is a consumer group of one topic: its committed offsets and which
// partitions a member is consuming.
type group struct {
	name string
	path string // offsets file

	mu      sync.Mutex // guards offsets and serialises writes of the file
	offsets []int64    // per partition, the offset of the next record to deliver

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
		offsets: make([]int64, partitions),
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
	copy(g.offsets, of.Offsets)
	return g, nil
}

func (g *group) offset(partition int) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.offsets[partition]
}

// commit records that every record of partition before next is handled. The
// file is replaced atomically (write a temporary file, fsync, rename, fsync
// the directory), so a crash leaves either the old or the new offsets.
func (g *group) commit(partition int, next int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if next <= g.offsets[partition] {
		return nil
	}
	offsets := append([]int64(nil), g.offsets...)
	offsets[partition] = next
	b, err := json.Marshal(offsetsFile{Group: g.name, Offsets: offsets})
	if err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", g.name, err)
	}
	if err := writeFileAtomic(g.path, b); err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", g.name, err)
	}
	g.offsets = offsets
	return nil
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
