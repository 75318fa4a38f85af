package refresh

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// One mechanism prints every value of this package that holds or was made from
// a secret. The type describes itself once, as a type name and an ordered list
// of fields whose secrets are already reduced to presence markers; render turns
// that into the String text, formatText writes it for every fmt verb, and
// logValue turns it into a slog group. String, Format and LogValue are one-line
// methods over these, so that they cannot drift apart.

// describer is a value that describes itself for printing and logging. A nil
// fields slice means that the value is nil and typ says so.
type describer interface {
	describe() (typ string, fields []printField)
}

// printField is one field of a description. Its value is safe to show: a secret is
// given as a secret marker, never as the secret.
type printField struct {
	name  string // the Go field name; slog's key is its snake_case form
	value any    // string, secret, word, bool, int, int64, time.Time, time.Duration, []string or a describer
}

// printFields is a description's field list, built in order.
type printFields []printField

// with appends the field when ok: for settings shown only when set.
func (fs printFields) with(ok bool, name string, value any) printFields {
	if ok {
		fs = append(fs, printField{name, value})
	}
	return fs
}

// secret stands for a secret: whether it is set, never what it is.
type secret bool

// secretOf is the marker for s.
func secretOf(s string) secret { return secret(s != "") }

// word is text shown as it is, without quotes: "set", "nil", a type's name.
type word string

// set marks a setting that is given but has no printable value (a func, a client).
const set word = "set"

// render describes d as text: Type{Name:value, ...}.
func render(d describer) string {
	typ, fs := d.describe()
	if fs == nil {
		return typ
	}
	var b strings.Builder
	b.WriteString(typ)
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name)
		b.WriteByte(':')
		switch v := f.value.(type) {
		case string:
			b.WriteString(strconv.Quote(v))
		case secret:
			if v {
				b.WriteString("[redacted]")
			} else {
				b.WriteString(`""`)
			}
		case time.Time:
			b.WriteString(v.Format(time.RFC3339))
		case []string:
			fmt.Fprintf(&b, "%q", v)
		case describer:
			b.WriteString(render(v))
		default: // word, bool, int, int64, time.Duration
			fmt.Fprint(&b, v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// logValue describes d for slog: a group of the same fields as render shows,
// keyed in snake_case, after a "type" attribute with the type's name.
func logValue(d describer) slog.Value {
	typ, fs := d.describe()
	if fs == nil {
		return slog.StringValue(typ)
	}
	attrs := make([]slog.Attr, 0, len(fs)+1)
	attrs = append(attrs, slog.String("type", typ))
	for _, f := range fs {
		var v slog.Value
		switch x := f.value.(type) {
		case secret:
			if x {
				v = slog.StringValue("[redacted]")
			} else {
				v = slog.StringValue("")
			}
		case word:
			v = slog.StringValue(string(x))
		case describer:
			v = logValue(x)
		default:
			v = slog.AnyValue(x)
		}
		attrs = append(attrs, slog.Attr{Key: snake(f.name), Value: v})
	}
	return slog.GroupValue(attrs...)
}

// snake turns a Go field name into a slog key: TokenURL becomes token_url,
// IDToken id_token.
func snake(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			prevLower := i > 0 && !('A' <= name[i-1] && name[i-1] <= 'Z')
			endOfAcronym := i > 0 && i+1 < len(name) && 'a' <= name[i+1] && name[i+1] <= 'z'
			if prevLower || endOfAcronym {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// formatText writes s, a value's safe description, for any fmt verb: %q quotes
// it, and every other verb (%v, %+v, %#v, %d, %x, ...) writes it as %s would,
// with the same width and flags. fmt calls no Format method for %p: a pointer
// prints its address, and a struct value fmt's bad-verb text with its raw
// fields, which no method can prevent.
func formatText(f fmt.State, verb rune, s string) {
	if verb != 'q' {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s)
}

// authValue is how a Client describes its Auth: a built-in method by its own
// description; a user's Auth by its String when it has one (the Auth contract
// keeps secrets out of it), otherwise by its type only, since its fields may
// hold keys.
func authValue(a Auth) any {
	switch v := a.(type) {
	case nil:
		return word("nil")
	case describer:
		return v
	case fmt.Stringer:
		return word(v.String())
	default:
		return word(fmt.Sprintf("%T", a))
	}
}

// redactURL keeps the scheme, host and path of a URL, for error texts.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

// withoutUserinfo removes what may be user info from a URL that did not parse:
// everything between the first "//" and the last '@'. A password that holds
// '/', '?' or '#' hides where the authority ends, so the last '@' is the only
// safe bound; the result is for error texts only.
func withoutUserinfo(s string) string {
	i := strings.Index(s, "//")
	if i < 0 {
		return s
	}
	j := strings.LastIndexByte(s, '@')
	if j < i+2 {
		return s
	}
	return s[:i+2] + s[j+1:]
}

// scrubbedError hides the quoted segments of a transport error's text, which
// net/http fills with bytes the server sent (`malformed HTTP response "..."`):
// a proxy or a broken server may echo the request's credentials there. The
// error itself stays reachable through Unwrap, and Timeout and Temporary answer
// as it does, so that *url.Error's own methods keep working.
type scrubbedError struct {
	err  error
	text string
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

// Timeout reports whether the error is a timeout.
func (e *scrubbedError) Timeout() bool {
	t, ok := e.err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

// Temporary answers as the error does (net.Error's deprecated method).
func (e *scrubbedError) Temporary() bool {
	t, ok := e.err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// scrub returns err with its quoted segments hidden, or err itself when its
// text quotes nothing.
func scrub(err error) error {
	text := withoutQuoted(err.Error())
	if text == err.Error() {
		return err
	}
	return &scrubbedError{err: err, text: text}
}

// withoutQuoted replaces the content of each Go-quoted segment of s ("...", as
// %q writes it) by "…".
func withoutQuoted(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(`"…"`)
		s = s[i+1:]
		end := len(s) // an unterminated quote hides the rest
		for j := 0; j < len(s); j++ {
			if s[j] == '\\' {
				j++
			} else if s[j] == '"' {
				end = j + 1
				break
			}
		}
		s = s[end:]
	}
}

// clip cuts s to at most n runes and replaces what is not printable, so that a
// server's text cannot forge lines in a log.
func clip(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i == n {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || r == 0xfffd || r >= 0x80 && r < 0xa0 {
			r = '?'
		}
		b.WriteRune(r)
		i++
	}
	return b.String()
}
