package memlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mashangban/mashangban/stream"
)

const segmentSuffix = ".log"

// partition is one append-only sequence of records, stored as segment files
// named by the offset of their first record (like Kafka's). Only the last
// segment is written to; it is rolled once it would grow past segmentBytes.
type partition struct {
	id           int
	dir          string
	segmentBytes int64

	// writeMu serialises appends and guards f and size. It is held across
	// the fsync, so readers never take it: they only need mu, held briefly.
	writeMu sync.Mutex
	f       *os.File // active segment, opened for appending
	size    int64    // bytes in the active segment

	mu   sync.Mutex
	segs []int64 // base offsets, ascending; the last is the active segment
	next int64   // offset the next record gets; changed with writeMu held too
	// wake is closed and replaced whenever next advances or the partition
	// fails or closes, so waiting consumers never poll.
	wake chan struct{}
	// err is sticky: after a failed write or fsync the file's state is
	// unknown, so the partition refuses further work until the log is
	// reopened and recovery cuts the tail back to the last intact record.
	err error
}

func segmentName(base int64) string { return fmt.Sprintf("%020d%s", base, segmentSuffix) }

// openPartition opens or creates the partition in dir and recovers its
// active segment, truncating a torn or corrupt tail.
func openPartition(dir string, id int, segmentBytes int64, logger *slog.Logger) (*partition, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create partition directory: %w", err)
	}
	p := &partition{id: id, dir: dir, segmentBytes: segmentBytes, wake: make(chan struct{})}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read partition directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		base, err := strconv.ParseInt(strings.TrimSuffix(name, segmentSuffix), 10, 64)
		if err != nil || base < 0 {
			return nil, fmt.Errorf("unexpected file %q in %s", name, dir)
		}
		p.segs = append(p.segs, base)
	}
	slices.Sort(p.segs)
	if len(p.segs) == 0 {
		p.segs = []int64{0}
		f, err := os.OpenFile(filepath.Join(dir, segmentName(0)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("create segment: %w", err)
		}
		// The segment's name, and the partition directory's own entry.
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			f.Close()
			return nil, err
		}
		p.f = f
		return p, nil
	}

	base := p.segs[len(p.segs)-1]
	path := filepath.Join(dir, segmentName(base))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	count, valid, err := scan(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("recover segment %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("recover segment %s: %w", path, err)
	}
	if st.Size() > valid {
		logger.Warn("cutting off torn tail of log segment", "path", path,
			"records", count, "kept_bytes", valid, "dropped_bytes", st.Size()-valid)
		if err := f.Truncate(valid); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate torn tail of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync %s: %w", path, err)
		}
	}
	p.f, p.size, p.next = f, valid, base+count
	return p, nil
}

// append writes the encoded records (count of them) and fsyncs before
// making them visible to readers. It reports whether it started a new segment.
func (p *partition) append(buf []byte, count int) (rolled bool, err error) {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.mu.Lock()
	err = p.err
	p.mu.Unlock()
	if err != nil {
		return false, err
	}
	if p.size > 0 && p.size+int64(len(buf)) > p.segmentBytes {
		if err := p.roll(); err != nil {
			return false, p.fail(err)
		}
		rolled = true
	}
	if _, err := p.f.Write(buf); err != nil {
		return rolled, p.fail(fmt.Errorf("write segment: %w", err))
	}
	if err := p.f.Sync(); err != nil {
		return rolled, p.fail(fmt.Errorf("sync segment: %w", err))
	}
	p.size += int64(len(buf))
	p.mu.Lock()
	p.next += int64(count)
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
	return rolled, nil
}

// dropSegments deletes, oldest first, sealed segments whose records all lie
// before upTo and which were last written before cutoff. A reader inside a
// deleted segment keeps its open file; one that seeks below the first
// remaining segment starts at that segment.
func (p *partition) dropSegments(upTo int64, cutoff time.Time) ([]int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var dropped []int64
	for len(p.segs) > 1 && p.segs[1] <= upTo {
		path := filepath.Join(p.dir, segmentName(p.segs[0]))
		st, err := os.Stat(path)
		if err != nil {
			return dropped, fmt.Errorf("retention: %w", err)
		}
		if !st.ModTime().Before(cutoff) {
			break
		}
		if err := os.Remove(path); err != nil {
			return dropped, fmt.Errorf("retention: %w", err)
		}
		dropped = append(dropped, p.segs[0])
		p.segs = p.segs[1:]
	}
	if len(dropped) > 0 {
		return dropped, syncDir(p.dir)
	}
	return nil, nil
}

// roll seals the active segment and starts a new one at p.next. Called with
// p.writeMu held, so p.next cannot change meanwhile.
func (p *partition) roll() error {
	p.mu.Lock()
	base := p.next
	p.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(p.dir, segmentName(base)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if err := syncDir(p.dir); err != nil {
		f.Close()
		return err
	}
	p.f.Close()
	p.f, p.size = f, 0
	p.mu.Lock()
	p.segs = append(p.segs, base)
	p.mu.Unlock()
	return nil
}

// fail makes err sticky and wakes readers so they see it. Called with
// p.writeMu held.
func (p *partition) fail(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = fmt.Errorf("partition %d failed, reopen the log to recover: %w", p.id, err)
	close(p.wake)
	p.wake = make(chan struct{})
	return p.err
}

// state returns the offset after the last durable record, a channel closed
// when that changes, and the partition's sticky error.
func (p *partition) state() (int64, <-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next, p.wake, p.err
}

func (p *partition) close() error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.mu.Lock()
	if p.err == nil {
		p.err = stream.ErrClosed
		close(p.wake)
		p.wake = make(chan struct{})
	}
	p.mu.Unlock()
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	return err
}

// reader reads a partition sequentially from its own file handle. It only
// reads records below the offset state reported, which are fully written, so
// it never sees a record that is still being appended.
type reader struct {
	p   *partition
	f   *os.File
	br  *bufio.Reader
	off int64 // offset of the record br returns next
}

// newReader positions a reader at offset off, which must not be past the end.
func (p *partition) newReader(off int64) (*reader, error) {
	r := &reader{p: p}
	if err := r.seek(off); err != nil {
		return nil, err
	}
	return r, nil
}

// seek opens the segment holding off and skips to it.
func (r *reader) seek(off int64) error {
	r.p.mu.Lock()
	i, found := slices.BinarySearch(r.p.segs, off)
	if !found {
		i--
	}
	base := r.p.segs[max(i, 0)]
	r.p.mu.Unlock()
	if r.f != nil {
		r.f.Close()
	}
	f, err := os.Open(filepath.Join(r.p.dir, segmentName(base)))
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	r.f = f
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, 1<<16)
	} else {
		r.br.Reset(f)
	}
	for r.off = base; r.off < off; r.off++ {
		if err := skipRecord(r.br); err != nil {
			return fmt.Errorf("partition %d: seek to offset %d: %w", r.p.id, off, err)
		}
	}
	return nil
}

// read returns the record at r.off; the caller has checked that r.off is
// below the partition's end.
func (r *reader) read() (record, int64, error) {
	for range 2 {
		rec, _, err := readRecord(r.br)
		if err == nil {
			off := r.off
			r.off++
			return rec, off, nil
		}
		if !errors.Is(err, io.EOF) {
			return record{}, 0, fmt.Errorf("partition %d: read offset %d: %w", r.p.id, r.off, err)
		}
		// The end of a sealed segment: the next record opens the next one.
		if err := r.seek(r.off); err != nil {
			return record{}, 0, err
		}
	}
	return record{}, 0, fmt.Errorf("partition %d: offset %d missing from its segment", r.p.id, r.off)
}

func (r *reader) close() {
	if r.f != nil {
		r.f.Close()
	}
}

// syncDir fsyncs a directory so that a file created or renamed in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
