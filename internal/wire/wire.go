// Package wire holds the byte-level helpers of the token request and response:
// application/x-www-form-urlencoded encoding into a caller's buffer, and a scanner
// over the members of a JSON object that hands out substrings instead of copies.
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
// json.Valid; on anything else Next stops early and reports no more members.
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
