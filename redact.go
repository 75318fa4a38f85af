package refresh

import (
	"fmt"
	"io"
	"net/url"
	"strings"
)

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

// redacted stands for a secret in text: whether it is set, never what it is.
func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[redacted]"
}

func writeRedacted(f fmt.State, s string) { io.WriteString(f, s) }

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
