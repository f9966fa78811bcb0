package linear

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Example is one labelled message: the text the model sees and its label
// (a category or a department name).
type Example struct {
	Text  string
	Label string
}

// maxLineBytes bounds one JSON Lines record; citizen messages are a few KB.
const maxLineBytes = 4 << 20

// ReadLabelled reads JSON Lines of labelled messages. Each line is an object
// with a string "text", an optional "title" (prepended to the text on its
// own line when present and non-empty) and the label under labelField
// ("category" or "department"). Blank lines are skipped. Errors name the
// line they are on.
func ReadLabelled(r io.Reader, labelField string) ([]Example, error) {
	if labelField == "" {
		return nil, errors.New("empty label field name")
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var out []Example
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			ex, perr := parseLabelled(line, labelField)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, perr)
			}
			out = append(out, ex)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no labelled examples")
	}
	return out, nil
}

// readLine returns the next line without its terminator, io.EOF with the
// last (possibly empty) line, or an error for a line over maxLineBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return line, err
		}
		line = append(line, chunk...)
		if len(line) > maxLineBytes {
			return nil, fmt.Errorf("line longer than %d bytes", maxLineBytes)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

func parseLabelled(line []byte, labelField string) (Example, error) {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(line, &rec); err != nil {
		return Example{}, fmt.Errorf("invalid JSON: %w", err)
	}
	text, err := optString(rec, "text")
	if err != nil {
		return Example{}, err
	}
	title, err := optString(rec, "title")
	if err != nil {
		return Example{}, err
	}
	label, err := optString(rec, labelField)
	if err != nil {
		return Example{}, err
	}
	text, title, label = strings.TrimSpace(text), strings.TrimSpace(title), strings.TrimSpace(label)
	if text == "" && title == "" {
		return Example{}, errors.New(`missing or empty "text"`)
	}
	if label == "" {
		return Example{}, fmt.Errorf("missing or empty %q", labelField)
	}
	if title != "" {
		if text == "" {
			text = title
		} else {
			text = title + "\n" + text
		}
	}
	return Example{Text: text, Label: label}, nil
}

// optString returns the string value of key, "" when absent or null, and an
// error when it holds anything else.
func optString(rec map[string]json.RawMessage, key string) (string, error) {
	raw, ok := rec[key]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("field %q is not a string", key)
	}
	return s, nil
}
