package linear

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// A model file is
//
//	magic "MSBMODEL" | format version (uint32 BE) | SHA-256 of body (32 bytes) | gzip(body)
//
// and the body is, little-endian:
//
//	uint32 n | n bytes of JSON header (labels, features, loss, scale, sizes)
//	terms: uint64 hash each, ascending
//	idf: float32 per term
//	weights: float32 per (term+bias) × label, feature-major
//
// The model's Version is derived from the same hash, so it changes whenever
// anything that affects a prediction changes (and when the training record
// in the header does).
const (
	fileMagic     = "MSBMODEL"
	formatVersion = 1
	maxBodyBytes  = 1 << 30
)

// ErrNotModel is returned by Load for input that is not a model file.
var ErrNotModel = errors.New("not a mashangban model file")

type fileHeader struct {
	Labels   []string       `json:"labels"`
	Features FeatureOptions `json:"features"`
	Loss     Loss           `json:"loss"`
	Scale    float32        `json:"scale"`
	Terms    int            `json:"terms"`
	// Trained is where the model came from; files written before it
	// existed have none.
	Trained *TrainInfo `json:"trained,omitempty"`
}

func encodeBody(m *Model) []byte {
	var b bytes.Buffer
	hdr, _ := json.Marshal(fileHeader{Labels: m.labels, Features: m.feat, Loss: m.loss, Scale: m.scale, Terms: len(m.terms), Trained: m.trained})
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(hdr))))
	b.Write(hdr)
	buf := make([]byte, 0, 8*len(m.terms)+4*(len(m.idf)+len(m.w)))
	for _, t := range m.terms {
		buf = binary.LittleEndian.AppendUint64(buf, t)
	}
	for _, v := range m.idf {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	for _, v := range m.w {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	b.Write(buf)
	return b.Bytes()
}

func versionOf(sum [32]byte) string { return "sha256:" + hex.EncodeToString(sum[:8]) }

func contentVersion(m *Model) string { return versionOf(sha256.Sum256(encodeBody(m))) }

// Save writes the model file.
func (m *Model) Save(w io.Writer) error {
	body := encodeBody(m)
	sum := sha256.Sum256(body)
	head := append([]byte(fileMagic), binary.BigEndian.AppendUint32(nil, formatVersion)...)
	head = append(head, sum[:]...)
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	zw := gzip.NewWriter(w)
	if _, err := zw.Write(body); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	return nil
}

// Load reads a model file written by Save. It rejects other files,
// other format versions, and files whose content does not match their
// checksum.
func Load(r io.Reader) (*Model, error) {
	head := make([]byte, len(fileMagic)+4+sha256.Size)
	if _, err := io.ReadFull(r, head); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: too short", ErrNotModel)
		}
		return nil, fmt.Errorf("read model: %w", err)
	}
	if string(head[:len(fileMagic)]) != fileMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrNotModel)
	}
	if v := binary.BigEndian.Uint32(head[len(fileMagic):]); v != formatVersion {
		return nil, fmt.Errorf("unsupported model format version %d (this build reads %d)", v, formatVersion)
	}
	var want [32]byte
	copy(want[:], head[len(fileMagic)+4:])
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("model file corrupt: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(zr, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("model file corrupt: %w", err)
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("model file corrupt: body over %d bytes", maxBodyBytes)
	}
	if sha256.Sum256(body) != want {
		return nil, errors.New("model file corrupt: checksum mismatch")
	}
	m, err := decodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("model file corrupt: %w", err)
	}
	m.version = versionOf(want)
	return m, nil
}

func decodeBody(body []byte) (*Model, error) {
	if len(body) < 4 {
		return nil, errors.New("truncated header")
	}
	n := binary.LittleEndian.Uint32(body)
	body = body[4:]
	if uint64(n) > uint64(len(body)) {
		return nil, errors.New("truncated header")
	}
	var h fileHeader
	if err := json.Unmarshal(body[:n], &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	body = body[n:]
	if len(h.Labels) < 2 {
		return nil, fmt.Errorf("header: %d labels", len(h.Labels))
	}
	for i, l := range h.Labels {
		if l == "" || (i > 0 && l <= h.Labels[i-1]) {
			return nil, fmt.Errorf("header: labels not unique, non-empty and sorted at %d", i)
		}
	}
	if !(h.Scale > 0) || math.IsInf(float64(h.Scale), 0) {
		return nil, fmt.Errorf("header: bad confidence scale %v", h.Scale)
	}
	if err := h.Features.validate(); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Loss != LossLogistic && h.Loss != LossSVM {
		return nil, fmt.Errorf("header: unknown loss %q", h.Loss)
	}
	K := len(h.Labels)
	if h.Terms < 0 || h.Terms > len(body) {
		return nil, fmt.Errorf("header: bad term count %d", h.Terms)
	}
	if need := 8*h.Terms + 4*(h.Terms+(h.Terms+1)*K); len(body) != need {
		return nil, fmt.Errorf("body is %d bytes, want %d for %d terms and %d labels", len(body), need, h.Terms, K)
	}
	if t := h.Trained; t != nil && (t.Examples < 0 || len(t.Sources) > 100) {
		return nil, fmt.Errorf("header: bad training record (%d examples, %d sources)", t.Examples, len(t.Sources))
	}
	m := &Model{labels: h.Labels, feat: h.Features, loss: h.Loss, scale: h.Scale, trained: h.Trained}
	m.terms = make([]uint64, h.Terms)
	m.vocab = make(map[uint64]int32, h.Terms)
	for i := range m.terms {
		t := binary.LittleEndian.Uint64(body[8*i:])
		if i > 0 && t <= m.terms[i-1] {
			return nil, fmt.Errorf("term %d out of order", i)
		}
		m.terms[i], m.vocab[t] = t, int32(i)
	}
	body = body[8*h.Terms:]
	m.idf = make([]float32, h.Terms)
	for i := range m.idf {
		m.idf[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	body = body[4*h.Terms:]
	m.w = make([]float32, (h.Terms+1)*K)
	for i := range m.w {
		m.w[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return m, nil
}
