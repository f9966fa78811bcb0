package memlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// On disk a segment is a sequence of records, each framed as
//
//	length  uint32  big-endian, bytes of body
//	crc     uint32  big-endian, CRC-32C (Castagnoli) of body
//	body:
//	  version uint8   recordVersion
//	  time    int64   big-endian, Unix nanoseconds
//	  keyLen  int32   big-endian, -1 for a nil key
//	  key     keyLen bytes
//	  value   the rest of the body
//
// A record is only ever appended, so a crash can leave at most a torn
// record at the end of the active segment; recovery cuts it off.
const (
	headerLen     = 8
	bodyFixedLen  = 1 + 8 + 4
	recordVersion = 1
	// maxBodyLen bounds a length field read from disk, so that a corrupt
	// length cannot make a reader allocate gigabytes.
	maxBodyLen = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt marks a record that fails its checksum or framing.
var errCorrupt = errors.New("corrupt record")

// record is one decoded message without its offset.
type record struct {
	key, value []byte
	time       time.Time
}

// appendRecord appends the framed encoding of r to buf.
func appendRecord(buf []byte, r record) []byte {
	bodyLen := bodyFixedLen + len(r.key) + len(r.value)
	buf = binary.BigEndian.AppendUint32(buf, uint32(bodyLen))
	crcAt := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	start := len(buf)
	buf = append(buf, recordVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.time.UnixNano()))
	keyLen := int32(len(r.key))
	if r.key == nil {
		keyLen = -1
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(keyLen))
	buf = append(buf, r.key...)
	buf = append(buf, r.value...)
	binary.BigEndian.PutUint32(buf[crcAt:], crc32.Checksum(buf[start:], castagnoli))
	return buf
}

// encodedLen is the size of r on disk.
func encodedLen(r record) int { return headerLen + bodyFixedLen + len(r.key) + len(r.value) }

// decodeBody decodes a record body whose checksum is crc. The returned
// slices alias body.
func decodeBody(body []byte, crc uint32) (record, error) {
	if crc32.Checksum(body, castagnoli) != crc {
		return record{}, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	if len(body) < bodyFixedLen {
		return record{}, fmt.Errorf("%w: body of %d bytes is too short", errCorrupt, len(body))
	}
	if body[0] != recordVersion {
		return record{}, fmt.Errorf("%w: unknown version %d", errCorrupt, body[0])
	}
	ns := int64(binary.BigEndian.Uint64(body[1:9]))
	keyLen := int32(binary.BigEndian.Uint32(body[9:13]))
	rest := body[bodyFixedLen:]
	var r record
	switch {
	case keyLen == -1:
	case keyLen < 0 || int(keyLen) > len(rest):
		return record{}, fmt.Errorf("%w: key length %d out of range", errCorrupt, keyLen)
	default:
		r.key = rest[:keyLen:keyLen]
		rest = rest[keyLen:]
	}
	if len(rest) > 0 {
		r.value = rest
	}
	r.time = time.Unix(0, ns)
	return r, nil
}

// readRecord reads the next record from br. At a record boundary with no
// more data it returns io.EOF; a record cut short returns
// io.ErrUnexpectedEOF, and one that fails its checks errCorrupt.
func readRecord(br *bufio.Reader) (record, int, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return record{}, 0, err
	}
	n := binary.BigEndian.Uint32(hdr[0:4])
	if n < bodyFixedLen || n > maxBodyLen {
		return record{}, 0, fmt.Errorf("%w: body length %d out of range", errCorrupt, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return record{}, 0, err
	}
	r, err := decodeBody(body, binary.BigEndian.Uint32(hdr[4:8]))
	return r, headerLen + int(n), err
}

// skipRecord moves br past the next record without checking it.
func skipRecord(br *bufio.Reader) error {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[0:4])
	if n < bodyFixedLen || n > maxBodyLen {
		return fmt.Errorf("%w: body length %d out of range", errCorrupt, n)
	}
	if _, err := br.Discard(int(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// scan reads records from r until the first one that is missing, torn or
// corrupt, and returns how many intact records there are and how many bytes
// they take. Everything after that is a torn tail to be cut off.
func scan(r io.Reader) (count, valid int64, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		_, n, err := readRecord(br)
		switch {
		case err == nil:
			count++
			valid += int64(n)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errCorrupt):
			return count, valid, nil
		default:
			return count, valid, err
		}
	}
}
