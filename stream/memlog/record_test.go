package memlog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		key, value []byte
	}{
		{"key and value", []byte("weibo:5030112233445566"), []byte(`{"id":"weibo:5030112233445566","text":"路灯不亮"}`)},
		{"nil key", nil, []byte("v")},
		{"empty key", []byte{}, []byte("v")},
		{"empty value", []byte("k"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := time.Date(2024, 5, 17, 8, 30, 0, 123456789, time.UTC)
			b := appendRecord(nil, record{key: tt.key, value: tt.value, time: at})
			if len(b) != encodedLen(record{key: tt.key, value: tt.value}) {
				t.Errorf("encoded %d bytes, encodedLen says %d", len(b), encodedLen(record{key: tt.key, value: tt.value}))
			}
			r, n, err := readRecord(bufio.NewReader(bytes.NewReader(b)))
			if err != nil {
				t.Fatal(err)
			}
			if n != len(b) {
				t.Errorf("read %d bytes of %d", n, len(b))
			}
			if (r.key == nil) != (tt.key == nil) || !bytes.Equal(r.key, tt.key) || !bytes.Equal(r.value, tt.value) || !r.time.Equal(at) {
				t.Errorf("decoded %+v", r)
			}
		})
	}
}

func TestReadRecordErrors(t *testing.T) {
	good := appendRecord(nil, record{key: []byte("k"), value: []byte("value"), time: time.Unix(0, 0)})
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"short header", good[:3], io.ErrUnexpectedEOF},
		{"short body", good[:len(good)-1], io.ErrUnexpectedEOF},
		{"bad checksum", flip(len(good) - 1), errCorrupt},
		{"bad crc field", flip(5), errCorrupt},
		{"length too small", []byte{0, 0, 0, 1, 0, 0, 0, 0, 0}, errCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readRecord(bufio.NewReader(bytes.NewReader(tt.in)))
			if !errors.Is(err, tt.want) {
				t.Errorf("readRecord = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzScan feeds arbitrary bytes to recovery: it must not panic, must keep a
// prefix made of whole records, and must find the same prefix again in it.
func FuzzScan(f *testing.F) {
	one := appendRecord(nil, record{key: []byte("k"), value: []byte("v"), time: time.Unix(1, 0)})
	two := appendRecord(bytes.Clone(one), record{value: []byte("帖子"), time: time.Unix(2, 0)})
	f.Add([]byte{})
	f.Add(one)
	f.Add(two)
	f.Add(two[:len(two)-2])
	f.Add(append(bytes.Clone(one), 0xff, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, data []byte) {
		count, valid, err := scan(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("scan of in-memory bytes failed: %v", err)
		}
		if valid > int64(len(data)) || count < 0 || (count == 0) != (valid == 0) {
			t.Fatalf("scan = %d records, %d bytes of %d", count, valid, len(data))
		}
		c2, v2, _ := scan(bytes.NewReader(data[:valid]))
		if c2 != count || v2 != valid {
			t.Fatalf("rescan of the kept prefix = %d, %d; first scan %d, %d", c2, v2, count, valid)
		}
	})
}

// FuzzRecord checks that every message encodes and decodes to itself.
func FuzzRecord(f *testing.F) {
	f.Add([]byte("weibo:1"), []byte(`{"text":"路灯"}`), int64(1700000000000000000), false)
	f.Add([]byte{}, []byte{}, int64(-1), true)
	f.Fuzz(func(t *testing.T, key, value []byte, ns int64, nilKey bool) {
		if nilKey {
			key = nil
		}
		b := appendRecord(nil, record{key: key, value: value, time: time.Unix(0, ns)})
		r, n, err := readRecord(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatal(err)
		}
		if n != len(b) || (r.key == nil) != (key == nil) || !bytes.Equal(r.key, key) || !bytes.Equal(r.value, value) || r.time.UnixNano() != ns {
			t.Fatalf("round trip of key %q value %q time %d gave %+v", key, value, ns, r)
		}
	})
}
