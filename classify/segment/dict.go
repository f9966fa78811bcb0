package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// dict is the simplified-Chinese dictionary as one flat, read-only byte
// slice: an open-addressing hash table of every word and every proper prefix
// of a word (gse's trie answers "is this a prefix" too, and its DAG needs it).
// It is built in well under a second from the embedded text, or read back
// from a cache file with no parsing at all, and it costs one allocation of
// about 14 MB instead of gse's trie and token structs (over 100 MB).
//
// Layout (little endian):
//
//	[0:8]   magic "MSBSEGD1"
//	[8:12]  source checksum: CRC-32C of the dictionary text it was built from
//	[12:20] total frequency (float64 bits)
//	[20:24] number of slots (a power of two)
//	[24:28] number of part-of-speech tags
//	[28:32] blob length
//	[32:36] CRC-32C of everything from byte 36 on
//	[36:]   tags ([len u8][bytes] each), slots ([n]u32: blob offset+1, 0 empty), blob
//
// A blob entry is [key len u16][key][freq float64 bits][tag index u8]; a
// freq of 0 marks a prefix that is not a word.
type dict struct {
	data      []byte
	total     float64
	mask      uint64
	slots     []byte // view into data
	blob      []byte // view into data
	tags      []string
	sourceSum uint32
}

const (
	dictMagic  = "MSBSEGD1"
	headerSize = 36
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func hashKey(s string) uint64 {
	// FNV-1a, 64 bit.
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// lookup returns the entry's freq and tag, and whether key is a word or a
// prefix of one.
func (d *dict) lookup(key string) (freq float64, tag string, ok bool) {
	for i := hashKey(key) & d.mask; ; i = (i + 1) & d.mask {
		off := binary.LittleEndian.Uint32(d.slots[i*4:])
		if off == 0 {
			return 0, "", false
		}
		e := d.blob[off-1:]
		n := int(binary.LittleEndian.Uint16(e))
		if n == len(key) && string(e[2:2+n]) == key {
			freq = math.Float64frombits(binary.LittleEndian.Uint64(e[2+n:]))
			return freq, d.tags[e[10+n]], true
		}
	}
}

// builder builds the table from a dictionary text.
type builder struct {
	slots []uint32
	blob  []byte
	count int
	tags  []string
	tagAt map[string]int
	total float64
}

func (b *builder) find(key string) (slot uint64, off uint32) {
	mask := uint64(len(b.slots) - 1)
	for i := hashKey(key) & mask; ; i = (i + 1) & mask {
		off := b.slots[i]
		if off == 0 {
			return i, 0
		}
		e := b.blob[off-1:]
		n := int(binary.LittleEndian.Uint16(e))
		if n == len(key) && string(e[2:2+n]) == key {
			return i, off
		}
	}
}

func (b *builder) grow() {
	old := b.blob
	b.slots = make([]uint32, len(b.slots)*2)
	for p := 0; p < len(old); {
		n := int(binary.LittleEndian.Uint16(old[p:]))
		i, _ := b.find(string(old[p+2 : p+2+n]))
		b.slots[i] = uint32(p + 1)
		p += 2 + n + 9
	}
}

// put adds key with freq and tag (freq 0: a prefix only). An existing word
// is kept (gse keeps the first of duplicate words); an existing prefix-only
// entry becomes the word.
func (b *builder) put(key string, freq float64, tag string) (added bool) {
	if 2*(b.count+1) > len(b.slots) {
		b.grow()
	}
	i, off := b.find(key)
	if off != 0 {
		e := b.blob[off-1:]
		n := len(key)
		if freq == 0 || math.Float64frombits(binary.LittleEndian.Uint64(e[2+n:])) != 0 {
			return false
		}
		binary.LittleEndian.PutUint64(e[2+n:], math.Float64bits(freq))
		e[10+n] = b.tag(tag)
		return true
	}
	b.slots[i] = uint32(len(b.blob) + 1)
	b.blob = binary.LittleEndian.AppendUint16(b.blob, uint16(len(key)))
	b.blob = append(b.blob, key...)
	b.blob = binary.LittleEndian.AppendUint64(b.blob, math.Float64bits(freq))
	b.blob = append(b.blob, b.tag(tag))
	b.count++
	return freq != 0
}

func (b *builder) tag(t string) byte {
	i, ok := b.tagAt[t]
	if !ok {
		i = len(b.tags)
		b.tags = append(b.tags, t)
		b.tagAt[t] = i
	}
	return byte(i)
}

// buildDict parses a gse dictionary text ("word freq pos" lines) with gse's
// own rules (LoadDictStr with the default options): lines without a
// frequency and words rarer than 2 are skipped, single-character words get
// frequency 2, the first of duplicate words wins, and ASCII letters in keys
// are lowered, as gse's SplitTextToWords does.
func buildDict(text string) (*dict, error) {
	if text == "" {
		return nil, errors.New("segment dictionary is empty")
	}
	size := 64
	for lines := strings.Count(text, "\n") + 1; size < 2*lines; size *= 2 {
	}
	b := &builder{slots: make([]uint32, size), tagAt: map[string]int{}}
	b.tag("")
	for line := range strings.SplitSeq(text, "\n") {
		fields := strings.Split(line, " ")
		if len(fields) < 2 {
			continue
		}
		word := strings.TrimSpace(fields[0])
		freq, err := strconv.ParseFloat(strings.TrimSpace(fields[1]), 64)
		if err != nil || freq < 2 {
			continue
		}
		if utf8.RuneCountInString(word) < 2 {
			freq = 2
		}
		tag := ""
		if len(fields) > 2 {
			tag = strings.TrimSpace(fields[2])
		}
		key := asciiLower(word)
		if key == "" || len(key) > math.MaxUint16 {
			continue
		}
		if len(b.tags) > 255 {
			return nil, errors.New("segment dictionary has more than 255 part-of-speech tags")
		}
		if b.put(key, freq, tag) {
			b.total += freq
		}
		for i := range key {
			if i > 0 {
				b.put(key[:i], 0, "")
			}
		}
	}
	return b.finish(sourceChecksum(text)), nil
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.Map(func(r rune) rune {
				if 'A' <= r && r <= 'Z' {
					return r + 'a' - 'A'
				}
				return r
			}, s)
		}
	}
	return s
}

func (b *builder) finish(sourceSum uint32) *dict {
	size := headerSize
	for _, t := range b.tags {
		size += 1 + len(t)
	}
	size += 4*len(b.slots) + len(b.blob)
	data := make([]byte, headerSize, size)
	copy(data, dictMagic)
	binary.LittleEndian.PutUint32(data[8:], sourceSum)
	binary.LittleEndian.PutUint64(data[12:], math.Float64bits(b.total))
	binary.LittleEndian.PutUint32(data[20:], uint32(len(b.slots)))
	binary.LittleEndian.PutUint32(data[24:], uint32(len(b.tags)))
	binary.LittleEndian.PutUint32(data[28:], uint32(len(b.blob)))
	for _, t := range b.tags {
		data = append(data, byte(len(t)))
		data = append(data, t...)
	}
	for _, s := range b.slots {
		data = binary.LittleEndian.AppendUint32(data, s)
	}
	data = append(data, b.blob...)
	binary.LittleEndian.PutUint32(data[32:], checksum(data[headerSize:]))
	d, err := openDict(data)
	if err != nil {
		panic("segment: a freshly built dictionary does not open: " + err.Error())
	}
	return d
}

// openDict checks a serialized table and returns a view on it.
func openDict(data []byte) (*dict, error) {
	if len(data) < headerSize || string(data[:8]) != dictMagic {
		return nil, errors.New("not a segment dictionary")
	}
	if got, want := checksum(data[headerSize:]), binary.LittleEndian.Uint32(data[32:]); got != want {
		return nil, fmt.Errorf("dictionary checksum %08x, want %08x", got, want)
	}
	d := &dict{
		data:      data,
		sourceSum: binary.LittleEndian.Uint32(data[8:]),
		total:     math.Float64frombits(binary.LittleEndian.Uint64(data[12:])),
	}
	nslots := uint64(binary.LittleEndian.Uint32(data[20:]))
	ntags := int(binary.LittleEndian.Uint32(data[24:]))
	blobLen := int(binary.LittleEndian.Uint32(data[28:]))
	if nslots == 0 || nslots&(nslots-1) != 0 || ntags == 0 || ntags > 256 {
		return nil, errors.New("corrupt dictionary header")
	}
	p := headerSize
	for range ntags {
		if p >= len(data) || p+1+int(data[p]) > len(data) {
			return nil, errors.New("corrupt dictionary tags")
		}
		d.tags = append(d.tags, string(data[p+1:p+1+int(data[p])]))
		p += 1 + int(data[p])
	}
	if len(data)-p != int(4*nslots)+blobLen {
		return nil, errors.New("corrupt dictionary size")
	}
	d.slots = data[p : p+int(4*nslots)]
	d.blob = data[p+int(4*nslots):]
	d.mask = nslots - 1
	// Every slot must point at a whole entry with a known tag, and one slot
	// at least must be empty, so that lookup can neither run off the end nor
	// probe forever in a damaged file that kept its checksum.
	empty := false
	for i := uint64(0); i < nslots; i++ {
		off := int(binary.LittleEndian.Uint32(d.slots[i*4:]))
		if off == 0 {
			empty = true
			continue
		}
		if off-1+2 > len(d.blob) {
			return nil, errors.New("corrupt dictionary slot")
		}
		n := int(binary.LittleEndian.Uint16(d.blob[off-1:]))
		if off-1+2+n+9 > len(d.blob) || int(d.blob[off-1+2+n+8]) >= ntags {
			return nil, errors.New("corrupt dictionary entry")
		}
	}
	if !empty {
		return nil, errors.New("corrupt dictionary: no empty slot")
	}
	return d, nil
}
