// Package wire holds the byte-level helpers of the token request and response:
// application/x-www-form-urlencoded encoding into a caller's buffer, a JSON
// validator, and a scanner over the members of a JSON object that hands out
// substrings instead of copies.
//
// Nothing here knows about OAuth; the root package gives the bytes their meaning.
package wire

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

const upperhex = "0123456789ABCDEF"

// AppendFormValue appends s to b, encoded as a value of an
// application/x-www-form-urlencoded body: a space becomes '+', every byte other than
// an ASCII letter, a digit or one of "-._~" becomes %XX. It matches url.QueryEscape
// without allocating.
func AppendFormValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return b
}

// FormValueLen returns len(AppendFormValue(nil, s)) without building it.
func FormValueLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == ' ':
		default:
			n += 2
		}
	}
	return n
}

// Object walks the members of one JSON object. Its input must already have passed
// Valid (or json.Valid); on anything else Next stops early and reports no more members.
type Object struct {
	data string
	pos  int
}

// NewObject returns an Object over data, or ok == false when data (which must be
// valid JSON) is not an object.
func NewObject(data string) (o Object, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return Object{}, false
	}
	return Object{data: data, pos: i + 1}, true
}

// Next returns the next member: its key as it stands between the quotes (escapes
// not decoded; see Key) and its value as raw JSON. ok is false after the last member.
func (o *Object) Next() (key, value string, ok bool) {
	d := o.data
	i := skipSpace(d, o.pos)
	if i < len(d) && d[i] == ',' {
		i = skipSpace(d, i+1)
	}
	if i >= len(d) || d[i] != '"' {
		o.pos = len(d)
		return "", "", false
	}
	end := skipString(d, i)
	if end-i < 2 { // a lone '"' at the end of invalid input
		o.pos = len(d)
		return "", "", false
	}
	key = d[i+1 : end-1]
	i = skipSpace(d, end)
	if i >= len(d) || d[i] != ':' {
		o.pos = len(d)
		return "", "", false
	}
	i = skipSpace(d, i+1)
	vend := skipValue(d, i)
	value = d[i:vend]
	o.pos = vend
	return key, value, len(value) > 0
}

// Key decodes a raw key returned by Next: a key without escapes (nearly all) is
// returned as it is, without a copy.
func Key(raw string) string {
	if !hasEscape(raw) && utf8.ValidString(raw) {
		return raw
	}
	s, _ := String(`"` + raw + `"`)
	return s
}

// String decodes a raw JSON string value (quotes included). Without escapes the
// result is a substring of raw. ok is false when raw is not a string.
func String(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if !hasEscape(inner) && utf8.ValidString(inner) {
		return inner, true // a substring: no copy
	}
	// Declared here, not as a named result, so that only this path pays for
	// the heap variable json.Unmarshal needs.
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return "", false
	}
	return s, true
}

func hasEscape(s string) bool { return strings.IndexByte(s, '\\') >= 0 }

func skipSpace(d string, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string that starts at d[i] == '"'.
func skipString(d string, i int) int {
	for i++; i < len(d); i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(d)
}

// skipValue returns the index just past the value that starts at d[i].
func skipValue(d string, i int) int {
	if i >= len(d) {
		return i
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				i = skipString(d, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(d)
	default: // number, true, false, null
		for i < len(d) {
			switch d[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// maxDepth is how deeply encoding/json lets arrays and objects nest.
const maxDepth = 10000

// Valid reports whether data is one JSON value with only white space around it.
// It answers as json.Valid does, the nesting limit included, in a single pass
// that only checks.
func Valid(data []byte) bool {
	i := validValue(data, spaceAt(data, 0), 0)
	return i >= 0 && spaceAt(data, i) == len(data)
}

// spaceAt returns the index of the first byte at or after i that is not JSON
// white space.
func spaceAt(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// validValue checks the value that starts at d[i], inside depth arrays and
// objects, and returns the index just past it, or -1 when it is not valid.
func validValue(d []byte, i, depth int) int {
	if i >= len(d) {
		return -1
	}
	switch c := d[i]; {
	case c == '{':
		if depth >= maxDepth {
			return -1
		}
		i = spaceAt(d, i+1)
		if i < len(d) && d[i] == '}' {
			return i + 1
		}
		for {
			if i >= len(d) || d[i] != '"' {
				return -1
			}
			if i = validString(d, i); i < 0 {
				return -1
			}
			if i = spaceAt(d, i); i >= len(d) || d[i] != ':' {
				return -1
			}
			if i = validValue(d, spaceAt(d, i+1), depth+1); i < 0 {
				return -1
			}
			if i = spaceAt(d, i); i >= len(d) {
				return -1
			}
			switch d[i] {
			case ',':
				i = spaceAt(d, i+1)
			case '}':
				return i + 1
			default:
				return -1
			}
		}
	case c == '[':
		if depth >= maxDepth {
			return -1
		}
		i = spaceAt(d, i+1)
		if i < len(d) && d[i] == ']' {
			return i + 1
		}
		for {
			if i = validValue(d, i, depth+1); i < 0 {
				return -1
			}
			if i = spaceAt(d, i); i >= len(d) {
				return -1
			}
			switch d[i] {
			case ',':
				i = spaceAt(d, i+1)
			case ']':
				return i + 1
			default:
				return -1
			}
		}
	case c == '"':
		return validString(d, i)
	case c == 't':
		return validLiteral(d, i, "true")
	case c == 'f':
		return validLiteral(d, i, "false")
	case c == 'n':
		return validLiteral(d, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return validNumber(d, i)
	}
	return -1
}

func validLiteral(d []byte, i int, lit string) int {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// validString checks the string that starts at d[i] == '"': no control
// character, only the escapes JSON defines. Other bytes, invalid UTF-8
// included, are accepted, as encoding/json accepts them.
func validString(d []byte, i int) int {
	for i++; i < len(d); i++ {
		switch c := d[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(d) {
				return -1
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(d)-i <= 4 {
					return -1
				}
				for _, h := range d[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// validNumber checks the number that starts at d[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(d []byte, i int) int {
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// digits returns the index of the first byte at or after i that is not a digit.
func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}
