package wire

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// allBytes holds every byte value, 0 to 255, once.
var allBytes = func() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}()

func TestAppendFormValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" means: as url.QueryEscape
	}{
		{name: "the empty string stays empty", in: ""},
		{name: "letters and digits pass through", in: "AZaz09", want: "AZaz09"},
		{name: "the four unreserved marks pass through", in: "-._~", want: "-._~"},
		{name: "a space becomes a plus", in: "a b", want: "a+b"},
		{name: "a plus is escaped", in: "a+b", want: "a%2Bb"},
		{name: "reserved characters are escaped in upper-case hex", in: "&=?/:#%", want: "%26%3D%3F%2F%3A%23%25"},
		{name: "a refresh token with slashes and padding is escaped", in: "1//0gAbc+/def=="},
		{name: "UTF-8 is escaped byte by byte", in: "é😀", want: "%C3%A9%F0%9F%98%80"},
		{name: "invalid UTF-8 is escaped byte by byte", in: "\xff\xfe\x80", want: "%FF%FE%80"},
		{name: "control characters are escaped", in: "\x00\t\r\n\x7f", want: "%00%09%0D%0A%7F"},
		{name: "every byte value matches url.QueryEscape", in: allBytes},
	}
	for i := 0; i < 256; i++ {
		tests = append(tests, struct {
			name string
			in   string
			want string
		}{name: "byte " + url.QueryEscape(string(rune(i))) + " alone matches url.QueryEscape", in: string([]byte{byte(i)})})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = url.QueryEscape(tc.in)
			}
			if got := string(AppendFormValue(nil, tc.in)); got != want {
				t.Errorf("AppendFormValue(nil, %q) = %q, want %q", tc.in, got, want)
			}
			if got := string(AppendFormValue([]byte("k="), tc.in)); got != "k="+want {
				t.Errorf("AppendFormValue(%q, %q) = %q, want the prefix kept: %q", "k=", tc.in, got, "k="+want)
			}
			if got := FormValueLen(tc.in); got != len(want) {
				t.Errorf("FormValueLen(%q) = %d, want %d", tc.in, got, len(want))
			}
		})
	}
}

func TestAppendFormValueDoesNotAllocateIntoRoom(t *testing.T) {
	s := "1//0gAbc+/def== with spaces & é"
	buf := make([]byte, 0, FormValueLen(s))
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendFormValue(buf[:0], s)
	})
	if allocs != 0 {
		t.Errorf("AppendFormValue into a buffer of FormValueLen bytes allocated %v times, want 0", allocs)
	}
}

// member is one member as Next returns it: the raw key and raw value.
type member struct{ Key, Value string }

// members walks data with NewObject and Next. It fails the test when Next
// reports more members than data has bytes (it would never stop).
func members(t *testing.T, data []byte) (list []member, isObject bool) {
	t.Helper()
	o, ok := NewObject(string(data))
	if !ok {
		return nil, false
	}
	for k, v, ok := o.Next(); ok; k, v, ok = o.Next() {
		list = append(list, member{k, v})
		if len(list) > len(data) {
			t.Fatalf("Next did not stop after %d members of %q", len(list), data)
		}
	}
	return list, true
}

func TestObject(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []member
	}{
		{name: "an empty object has no members", in: `{}`},
		{name: "white space around and inside an empty object is skipped", in: " \t\r\n{ \n\t } \r\n"},
		{name: "one string member is returned with its quotes", in: `{"a":"b"}`, want: []member{{"a", `"b"`}}},
		{
			name: "white space around keys, colons, commas and values is skipped",
			in:   " {\n \"a\" :\t1 ,\r\n \"b\" :[ 1 , 2 ] \n} ",
			want: []member{{"a", "1"}, {"b", "[ 1 , 2 ]"}},
		},
		{
			name: "a nested value is returned whole",
			in:   `{"outer":{"inner":{"deep":[1,{"x":"}"}]}},"next":true}`,
			want: []member{{"outer", `{"inner":{"deep":[1,{"x":"}"}]}}`}, {"next", "true"}},
		},
		{
			name: "escaped quotes and brackets inside strings do not end them",
			in:   `{"k\"ey":"va\"l}ue]","b\\":"\\","c":["]\"[",{"}":"{"}]}`,
			want: []member{{`k\"ey`, `"va\"l}ue]"`}, {`b\\`, `"\\"`}, {"c", `["]\"[",{"}":"{"}]`}},
		},
		{
			name: "literals and numbers end where the next token starts",
			in:   `{"t":true,"f":false,"n":null,"num":-1.5e+10,"z":0}`,
			want: []member{{"t", "true"}, {"f", "false"}, {"n", "null"}, {"num", "-1.5e+10"}, {"z", "0"}},
		},
		{name: "a key with a unicode escape is returned raw", in: `{"access\u005ftoken":"x"}`, want: []member{{`access\u005ftoken`, `"x"`}}},
		{name: "duplicate keys are all returned in order", in: `{"a":1,"a":2}`, want: []member{{"a", "1"}, {"a", "2"}}},
		{name: "an empty key is a key", in: `{"":1}`, want: []member{{"", "1"}}},
		{name: "empty containers are values", in: `{"a":{},"b":[],"c":""}`, want: []member{{"a", "{}"}, {"b", "[]"}, {"c", `""`}}},
		{name: "raw UTF-8 in keys and values is kept", in: `{"é":"😀"}`, want: []member{{"é", `"😀"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := members(t, []byte(tc.in))
			if !ok {
				t.Fatalf("NewObject(%q) reports no object", tc.in)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("members of %q (-want +got):\n%s", tc.in, diff)
			}
		})
	}

	notObjects := []struct{ name, in string }{
		{"an array is not an object", `[{"a":1}]`},
		{"a string holding an object is not an object", `"{}"`},
		{"an empty input is not an object", ``},
		{"white space alone is not an object", " \n\t"},
		{"null is not an object", `null`},
		{"a number is not an object", `1`},
	}
	for _, tc := range notObjects {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := NewObject(tc.in); ok {
				t.Errorf("NewObject(%q) reports an object", tc.in)
			}
		})
	}

	// Next's input should have passed json.Valid; on anything else it must
	// stop, not panic or loop.
	invalid := []struct{ name, in string }{
		{"a lone opening quote after the brace stops", `{"`},
		{"an unterminated key stops", `{"ab`},
		{"a key ending in an escape stops", `{"a\`},
		{"a key without a colon stops", `{"a" 1}`},
		{"a missing value stops", `{"a":`},
		{"a leading comma stops", `{,}`},
		{"a double comma stops", `{"a":1,,"b":2}`},
		{"an unterminated nested value stops", `{"a":{"b":[1,2`},
		{"an unterminated string value stops", `{"a":"xyz`},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			if json.Valid([]byte(tc.in)) {
				t.Fatalf("%q is valid JSON; the case is wrong", tc.in)
			}
			members(t, []byte(tc.in))
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"a plain key is itself", "access_token", "access_token"},
		{"an empty key is empty", "", ""},
		{"a unicode escape is decoded", `access\u005ftoken`, "access_token"},
		{"an upper-case unicode escape is decoded", `token\u005Ftype`, "token_type"},
		{"an escaped quote is decoded", `a\"b`, `a"b`},
		{"an escaped backslash is decoded", `a\\b`, `a\b`},
		{"a surrogate pair is decoded", `\ud83d\ude00`, "😀"},
		{"control escapes are decoded", `\n\t\/`, "\n\t/"},
		{"raw UTF-8 is kept", "é", "é"},
		{"invalid UTF-8 becomes U+FFFD as in encoding/json", "a\xffb", "a\ufffdb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Key(tc.raw); got != tc.want {
				t.Errorf("Key(%q) = %q, want %q", tc.raw, got, tc.want)
			}
			var viaJSON string
			if err := json.Unmarshal([]byte(`"`+tc.raw+`"`), &viaJSON); err != nil {
				t.Fatalf("encoding/json rejects the key: %v", err)
			}
			if viaJSON != tc.want {
				t.Errorf("encoding/json decodes %q to %q, the case wants %q", tc.raw, viaJSON, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	strs := []struct{ name, raw, want string }{
		{"a plain string is decoded", `"abc"`, "abc"},
		{"the empty string is decoded", `""`, ""},
		{"escapes are decoded", `"a\nb\"c\\d\u00e9"`, "a\nb\"c\\dé"},
		{"a surrogate pair is decoded", `"\ud83d\ude00"`, "😀"},
		{"a lone surrogate becomes U+FFFD", `"\ud83d"`, "\ufffd"},
		{"invalid UTF-8 becomes U+FFFD", "\"\xff\"", "\ufffd"},
	}
	for _, tc := range strs {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := String(tc.raw)
			if !ok || got != tc.want {
				t.Errorf("String(%q) = %q, %v; want %q, true", tc.raw, got, ok, tc.want)
			}
		})
	}

	notStrs := []struct{ name, raw string }{
		{"a number is not a string", `123`},
		{"null is not a string", `null`},
		{"true is not a string", `true`},
		{"an object is not a string", `{"a":"b"}`},
		{"an array of strings is not a string", `["a"]`},
		{"nothing is not a string", ``},
		{"a lone quote is not a string", `"`},
		{"a string ending in an escaped quote is not a string", `"a\"`},
	}
	for _, tc := range notStrs {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := String(tc.raw); ok {
				t.Errorf("String(%q) = %q, true; want false", tc.raw, got)
			}
		})
	}
}

func TestValid(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	deepObj := func(n int) string { return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1) }
	inputs := []string{
		"", " ", "{}", " {} ", "[]", `""`, "0", "-0", "1", "-1.5e+10", "1E5", "0.5",
		"01", "-", "1.", ".5", "1e", "1e+", "+1", "--1", "1.5.5", "0x10", "NaN", "Infinity",
		"true", "false", "null", "tru", "truex", "nul", "True", "true false",
		`{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`, `{,}`, `{"a":}`, `{"a":1}}`,
		`[1,2]`, `[1,]`, `[,1]`, `[1 2]`, `[`, `]`, `{`, `{"`, `{"a"`, `{"a":`,
		`"\\"`, `"\/\b\f\n\r\t\""`, `"\u00e9"`, `"\u00E9"`, `"\u00g9"`, `"\u00e"`, `"\x"`, `"\`,
		"\"\x00\"", "\"\x1f\"", "\"\x7f\"", "\"\xff\xfe\"", "\"tab\there\"", "{}\x00", "\ufeff{}",
		" \t\r\n{} \t\r\n", `{"a":[true,false,null,{"b":"}"}]}`,
		deep(maxDepth), deep(maxDepth + 1), deepObj(maxDepth), deepObj(maxDepth + 1),
	}
	for _, in := range inputs {
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%.40q) = %v, json.Valid says %v", in, got, want)
		}
	}
}

func FuzzObject(f *testing.F) {
	for _, s := range []string{
		`{}`,
		` { "a" : 1 , "b" : [ 1 , { "c" : "}" } ] } `,
		`{"access_token":"AT","token_type":"Bearer","expires_in":3600,"scope":["a","b"]}`,
		`{"k\"ey":"va\"l}ue]","b\\":"\\"}`,
		`{"access\u005ftoken":"x","access_token":"y"}`,
		`{"t":true,"f":false,"n":null,"num":-1.5e+10}`,
		`{"":{"":[[],{}]}}`,
		"{\"\xff\":\"\xfe\"}",
		`{"\ud83d\ude00":"\u00e9"}`,
		`[{"a":1}]`,
		`"{}"`,
		`{"`,
		`{"a":1,,"b":2}`,
		`[1,-0.5e-3,"\u00e9\n",true,false,null]`,
		"01", "1.", `"\x"`, "\"\x01\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, isObject := members(t, data) // never panics, always stops
		valid := json.Valid(data)
		if v := Valid(data); v != valid {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", data, v, valid)
		}
		if !valid {
			return
		}
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		if want := len(trimmed) > 0 && trimmed[0] == '{'; isObject != want {
			t.Fatalf("NewObject(%q) ok = %v, want %v", data, isObject, want)
		}
		if !isObject {
			return
		}

		var want map[string]json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("json.Unmarshal of a valid object: %v", err)
		}
		wantCompact := map[string]string{}
		for k, v := range want {
			wantCompact[k] = compact(t, []byte(v))
		}
		gotCompact := map[string]string{}
		for _, m := range got {
			gotCompact[Key(m.Key)] = compact(t, []byte(m.Value)) // the last one wins
			if m.Value[0] == '"' {
				var s string
				if err := json.Unmarshal([]byte(m.Value), &s); err != nil {
					t.Fatalf("value %q: %v", m.Value, err)
				}
				if got, ok := String(m.Value); !ok || got != s {
					t.Errorf("String(%q) = %q, %v; encoding/json gives %q", m.Value, got, ok, s)
				}
			}
		}
		if diff := cmp.Diff(wantCompact, gotCompact); diff != "" {
			t.Errorf("members of %q differ from encoding/json (-json +wire):\n%s", data, diff)
		}
	})
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("value %q is not valid JSON: %v", raw, err)
	}
	return b.String()
}

func FuzzAppendFormValue(f *testing.F) {
	for _, s := range []string{"", "abc", "a b+c", "1//0gAbc+/def==", "é😀", "\xff\x00\x7f", allBytes, strings.Repeat("~", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := url.QueryEscape(s)
		if got := string(AppendFormValue([]byte("x"), s)); got != "x"+want {
			t.Errorf("AppendFormValue(%q) = %q, want %q", s, got[1:], want)
		}
		if got := FormValueLen(s); got != len(want) {
			t.Errorf("FormValueLen(%q) = %d, want %d", s, got, len(want))
		}
	})
}

// BenchmarkValid checks a typical token response, against json.Valid.
func BenchmarkValid(b *testing.B) {
	body := []byte(`{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","token_type":"bearer","expires_in":28800,"refresh_token":"ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498","refresh_token_expires_in":15811200,"scope":""}`)
	b.Run("wire", func(b *testing.B) {
		for b.Loop() {
			if !Valid(body) {
				b.Fatal("not valid")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("not valid")
			}
		}
	})
}
