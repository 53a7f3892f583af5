// Package jsonsplit validates a provider's response and splits it at its
// top level (the envelope's members, then the records array's elements)
// without a nesting limit, so that one record nested deeper than
// encoding/json accepts fails alone instead of failing its whole page.
//
// It accepts exactly what json.Valid accepts, at any depth: a body it
// refuses is truncated or mangled, never merely deep.
package jsonsplit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting encoding/json decodes: a value nested
// deeper is refused by json.Unmarshal and json.Valid.
const MaxDepth = 10000

var (
	// ErrSyntax means the input is not one complete JSON value.
	ErrSyntax = errors.New("not valid JSON")
	// ErrNotObject means the input is valid JSON but not an object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrNotArray means the input is valid JSON but not an array.
	ErrNotArray = errors.New("not a JSON array")
)

// Member is one member of an object: its key, decoded, and its value's
// bytes, which alias the input.
type Member struct {
	Key   string
	Value []byte
}

// Pick returns, for each name, the value of the last member whose key is
// exactly that name (nil if none), as encoding/json keeps the last of
// duplicate keys. folded reports a member whose key equals one of the
// names only case-insensitively, which encoding/json would match to a
// struct field of that name: a caller that must decode exactly as it
// does can then defer to it.
func Pick(members []Member, names ...string) (values [][]byte, folded bool) {
	values = make([][]byte, len(names))
	for _, m := range members {
		for i, name := range names {
			switch {
			case m.Key == name:
				values[i] = m.Value
			case strings.EqualFold(m.Key, name):
				folded = true
			}
		}
	}
	return values, folded
}

// Element is one element of an array: its bytes, which alias the input
// (capped, so appending to one never overwrites the next), and its nesting
// depth (0 for a scalar, 1 for [] or {}).
type Element struct {
	Raw   []byte
	Depth int
}

// Object parses b as exactly one JSON object (surrounding whitespace
// allowed) and returns its members in order; duplicate keys are all kept.
func Object(b []byte) ([]Member, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, notA(b, ErrNotObject)
	}
	var members []Member
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return members, end(b, i+1)
	}
	for {
		start := i
		var err error
		if i, err = scanString(b, i); err != nil {
			return nil, err
		}
		key := decodeKey(b[start:i])
		if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
			return nil, ErrSyntax
		}
		vstart := skipSpace(b, i+1)
		vend, _, err := scanValue(b, vstart)
		if err != nil {
			return nil, err
		}
		members = append(members, Member{Key: key, Value: b[vstart:vend:vend]})
		i = skipSpace(b, vend)
		switch {
		case i >= len(b):
			return nil, ErrSyntax
		case b[i] == '}':
			return members, end(b, i+1)
		case b[i] != ',':
			return nil, ErrSyntax
		}
		i = skipSpace(b, i+1)
	}
}

// Array parses b as exactly one JSON array (surrounding whitespace
// allowed) and returns its elements in order.
func Array(b []byte) ([]Element, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, notA(b, ErrNotArray)
	}
	elems := []Element{}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return elems, end(b, i+1)
	}
	for {
		vend, depth, err := scanValue(b, i)
		if err != nil {
			return nil, err
		}
		elems = append(elems, Element{Raw: b[i:vend:vend], Depth: depth})
		i = skipSpace(b, vend)
		switch {
		case i >= len(b):
			return nil, ErrSyntax
		case b[i] == ']':
			return elems, end(b, i+1)
		case b[i] != ',':
			return nil, ErrSyntax
		}
		i = skipSpace(b, i+1)
	}
}

// Valid reports whether b is exactly one JSON value, like json.Valid but
// at any depth.
func Valid(b []byte) bool {
	i := skipSpace(b, 0)
	vend, _, err := scanValue(b, i)
	return err == nil && end(b, vend) == nil
}

// Each decodes every element on its own: decode gets a copy of the
// element's bytes (the caller may reuse the body's buffer), and an element
// encoding/json cannot decode becomes reject(payload) with Undecodable's
// payload, so the pipeline rejects that record and the rest of the page
// stands.
func Each[T any](elems []Element, decode func(raw json.RawMessage) T, reject func(payload []byte) T) []T {
	out := make([]T, len(elems))
	for i, e := range elems {
		if data, bad := Undecodable(e); bad {
			out[i] = reject(data)
			continue
		}
		out[i] = decode(bytes.Clone(e.Raw))
	}
	return out
}

// rejectedPrefix starts every payload Undecodable makes; it is not JSON,
// so the pipeline can never store such a payload as a record.
const rejectedPrefix = "syncloop could not decode this record: "

// Undecodable returns, for an element that encoding/json cannot decode
// (one nested deeper than MaxDepth), the payload to reject it with: text,
// not JSON, saying why and showing how the element begins. It returns
// false for any other element.
func Undecodable(e Element) ([]byte, bool) {
	if e.Depth <= MaxDepth {
		return nil, false
	}
	return fmt.Appendf(nil, "%sit is nested %d levels deep, more than the %d that can be decoded; it begins %s",
		rejectedPrefix, e.Depth, MaxDepth, prefix(e.Raw, 64)), true
}

// IsUndecodable reports whether data is a payload made by Undecodable.
func IsUndecodable(data []byte) bool { return strings.HasPrefix(string(data), rejectedPrefix) }

// prefix returns at most n bytes of b, cut at a rune boundary, with "…"
// when cut.
func prefix(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "…"
}

// decodeKey decodes a string already scanned.
func decodeKey(raw []byte) string {
	s, _ := String(raw)
	return s
}

// String decodes raw as a JSON string, as json.Unmarshal into a string
// would; false if it is not one. A plain string (no escape, valid UTF-8,
// as nearly every id and timestamp is) is the text between its quotes,
// read without encoding/json.
func String(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 && utf8.Valid(inner) && !hasControl(inner) {
			return string(inner), true
		}
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// notA tells a valid value of the wrong type from an invalid input.
func notA(b []byte, wrongType error) error {
	if Valid(b) {
		return wrongType
	}
	return ErrSyntax
}

// end checks that only whitespace follows offset i.
func end(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return ErrSyntax
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanValue returns the end of the JSON value starting at b[i] and its
// nesting depth. It keeps its own stack, so depth costs memory (one byte
// a level), never goroutine stack.
func scanValue(b []byte, i int) (int, int, error) {
	var stack []byte // '{' or '[' per open container
	maxDepth := 0
	var err error
	for {
		// A value starts at b[i] (whitespace already skipped).
		if i >= len(b) {
			return 0, 0, ErrSyntax
		}
		closed := true // whether the value just scanned is complete
		switch c := b[i]; {
		case c == '{' || c == '[':
			stack = append(stack, c)
			maxDepth = max(maxDepth, len(stack))
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				stack = stack[:len(stack)-1]
				i++
			} else if c == '{' {
				if i, err = scanKey(b, i); err != nil {
					return 0, 0, err
				}
				closed = false
			} else {
				closed = false
			}
		case c == '"':
			if i, err = scanString(b, i); err != nil {
				return 0, 0, err
			}
		case c == 't':
			i, err = scanLiteral(b, i, "true")
		case c == 'f':
			i, err = scanLiteral(b, i, "false")
		case c == 'n':
			i, err = scanLiteral(b, i, "null")
		default:
			i, err = scanNumber(b, i)
		}
		if err != nil {
			return 0, 0, err
		}
		if !closed {
			continue
		}
		// After a complete value: close containers, or move to the next
		// element or member.
		for {
			if len(stack) == 0 {
				return i, maxDepth, nil
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, 0, ErrSyntax
			}
			top := stack[len(stack)-1]
			if b[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return 0, 0, ErrSyntax
			}
			i = skipSpace(b, i+1)
			if top == '{' {
				if i, err = scanKey(b, i); err != nil {
					return 0, 0, err
				}
			}
			break
		}
	}
}

// scanKey scans `"key" :` and the whitespace after it.
func scanKey(b []byte, i int) (int, error) {
	i, err := scanString(b, i)
	if err != nil {
		return 0, err
	}
	if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
		return 0, ErrSyntax
	}
	return skipSpace(b, i+1), nil
}

// scanString returns the end of the string starting at b[i].
func scanString(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, ErrSyntax
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return 0, ErrSyntax
		case c == '\\':
			i++
			if i >= len(b) {
				return 0, ErrSyntax
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return 0, ErrSyntax
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return 0, ErrSyntax
					}
				}
				i += 4
			default:
				return 0, ErrSyntax
			}
		}
	}
	return 0, ErrSyntax
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, ErrSyntax
	}
	return i + len(lit), nil
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanNumber(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, ErrSyntax
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, ErrSyntax
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, ErrSyntax
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, ErrSyntax
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
