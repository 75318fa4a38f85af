package pgstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokenrefresh/refresh"
	"github.com/tokenrefresh/refresh/pgstore"
	"github.com/tokenrefresh/refresh/pgstore/internal/pgtest"
)

// The secrets of TestNoSecretInText: the tokens stored, the database password
// in the pool's settings, and the AEAD's key.
const (
	secretAccess   = "at-redact-secret"
	secretRefresh  = "rt-redact-secret"
	secretPassword = "pw-redact-secret"
)

var secretKey = []byte("0123456789abcdef0123456789abcdef") // AES-256

type redactCase struct {
	name  string
	value any
	typ   string // the exported type the row covers, when value's own type is not it
}

// redactCases gives a value of every exported type of the package, and the
// errors its calls return, each holding or made with the secrets.
func redactCases(t *testing.T) []redactCase {
	p := testPool(t)
	cfg, err := pgxpool.ParseConfig(strings.Replace(server.ConnString(), "refresh@", "refresh:"+secretPassword+"@", 1))
	if err != nil {
		t.Fatal(err)
	}
	withPassword, err := pgxpool.NewWithConfig(context.Background(), cfg) // trust: any password works
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(withPassword.Close)
	aead := newAEADWithKey(t, secretKey)
	opt := pgstore.WithAEAD("k1", aead)
	key := newKey(t)
	st := pgstore.New(withPassword, key, opt)
	tok := &refresh.Tokens{AccessToken: secretAccess, TokenType: "Bearer", RefreshToken: secretRefresh}
	if err := st.Save(ctxFor(t), tok); err != nil {
		t.Fatal(err)
	}
	l, err := st.Acquire(ctxFor(t), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctxFor(t), tok); err != nil { // fences l out
		t.Fatal(err)
	}
	conflict := l.Save(ctxFor(t), tok)
	release(t, l)
	_, unknownKey := pgstore.New(p, key).Load(ctxFor(t))
	_, wrongKey := pgstore.New(p, key, pgstore.WithAEAD("k1", newAEAD(t))).Load(ctxFor(t))

	cfg.ConnConfig.Port = uint16(closedPort(t))
	down, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	_, downErr := pgstore.New(down, key, opt).Load(ctxFor(t))

	return []redactCase{
		{name: "a *Store with a password in its pool and an AEAD", value: st},
		{name: "a *Store as a SharedStore", value: refresh.SharedStore(st)},
		{name: "a nil *Store", value: (*pgstore.Store)(nil), typ: "Store"},
		{name: "an Option holding an AEAD", value: opt},
		{name: "a Lease", value: l},
		{name: "a version conflict", value: conflict},
		{name: "a row sealed with an unknown key ID", value: unknownKey},
		{name: "a row that does not open", value: wrongKey},
		{name: "the error of a server that is down", value: downErr},
	}
}

func closedPort(t *testing.T) int {
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// verbs are the fmt verbs a program might print a value with.
var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%p"}

// renderings are the texts of v that a program might print or log.
func renderings(v any) map[string]string {
	out := map[string]string{}
	for _, verb := range verbs {
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["%+v of a slice holding it"] = fmt.Sprintf("%+v", []any{v})
	if s, ok := v.(fmt.Stringer); ok {
		out["String()"] = s.String()
	}
	if e, ok := v.(error); ok {
		out["Error()"] = e.Error()
	}
	var js, txt bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("pgstore", slog.Any("x", v))
	slog.New(slog.NewTextHandler(&txt, nil)).Info("pgstore", slog.Any("x", v))
	out["slog JSON"] = js.String()
	out["slog text"] = txt.String()
	return out
}

// showsSecret returns the secret text shows, as it is or in hex, or "".
func showsSecret(text string) string {
	lower := strings.ToLower(text)
	for _, s := range []string{secretAccess, secretRefresh, secretPassword, string(secretKey)} {
		if strings.Contains(text, s) || strings.Contains(lower, hex.EncodeToString([]byte(s))) {
			return s
		}
	}
	return ""
}

// exportedTypes lists the exported types the package declares.
func exportedTypes(t *testing.T) []string {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					if ts := s.(*ast.TypeSpec); ts.Name.IsExported() {
						names = append(names, ts.Name.Name)
					}
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestNoSecretInText prints a value of every exported type of the package, and
// the errors of its calls, with every verb and both slog handlers, and looks
// for the tokens, the database password and the AEAD key.
func TestNoSecretInText(t *testing.T) {
	cases := redactCases(t)
	t.Run("every exported type of the package has a row", func(t *testing.T) {
		covered := map[string]bool{}
		for _, tc := range cases {
			typ := tc.typ
			if typ == "" {
				rt := reflect.TypeOf(tc.value)
				if rt.Kind() == reflect.Pointer {
					rt = rt.Elem()
				}
				typ = rt.Name()
			}
			covered[typ] = true
		}
		for _, name := range exportedTypes(t) {
			if !covered[name] {
				t.Errorf("no row prints a pgstore.%s: add one to redactCases", name)
			}
		}
	})
	for _, tc := range cases {
		t.Run(tc.name+" shows no secret", func(t *testing.T) {
			for how, text := range renderings(tc.value) {
				if s := showsSecret(text); s != "" {
					t.Errorf("%s shows %q:\n%s", how, s, text)
				}
			}
		})
	}
}

func TestPrintedStore(t *testing.T) {
	st := pgstore.New(testPool(t), "grant-7", pgstore.WithTable("app_tokens"), pgstore.WithAEAD("k1", newAEAD(t)))
	want := `pgstore.Store{Table:"app_tokens", Key:"grant-7", KeyID:"k1"}`
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
		if got := fmt.Sprintf(verb, st); got != want {
			t.Errorf("%s: %s, want %s", verb, got, want)
		}
	}
	if got, want := fmt.Sprintf("%q", st), fmt.Sprintf("%q", want); got != want {
		t.Errorf("%%q: %s, want %s", got, want)
	}
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
		if len(g) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return a
	}})).Info("", "st", st)
	if got, want := strings.TrimSpace(b.String()), "st.type=pgstore.Store st.table=app_tokens st.key=grant-7 st.key_id=k1"; got != want {
		t.Errorf("slog: %s, want %s", got, want)
	}
}
