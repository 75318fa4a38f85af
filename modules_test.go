package refresh_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rootModule is the module path that nested modules require.
const rootModule = "github.com/tokenrefresh/refresh"

// TestGoModsRequireATaggedRoot checks every go.mod in the repository: a module
// that requires the root must name a real version, since Go ignores a replace
// in a dependency (go get of a nested module would fail on v0.0.0), and it must
// replace the root with this checkout, so that work inside the repo builds
// against the code beside it.
func TestGoModsRequireATaggedRoot(t *testing.T) {
	var mods []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != "." && (name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir // .bin, .git and the like
		}
		if name == "go.mod" && !d.IsDir() {
			mods = append(mods, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	requiring := 0
	for _, path := range mods {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		requires, problems := checkGoMod(filepath.Dir(path), string(data))
		if requires {
			requiring++
		}
		for _, p := range problems {
			t.Errorf("%s: %s", path, p)
		}
	}
	if requiring == 0 {
		t.Errorf("no go.mod among %q requires %s: the walk missed the nested modules", mods, rootModule)
	}
}

func TestCheckGoMod(t *testing.T) {
	tests := []struct {
		name, dir, gomod string
		want             []string
	}{{
		name: "a tagged version with a replace to the root passes",
		dir:  "oauth2adapter",
		gomod: "module m\n\nrequire (\n\tgolang.org/x/oauth2 v0.38.0\n\t" + rootModule + " v0.1.0 // the first tag\n)\n\n" +
			"replace " + rootModule + " => ../\n",
	}, {
		name:  "a module that does not require the root passes",
		dir:   ".",
		gomod: "module " + rootModule + "\n\nrequire github.com/google/go-cmp v0.7.0\n",
	}, {
		name:  "v0.0.0 fails",
		dir:   "oauth2adapter",
		gomod: "module m\nrequire " + rootModule + " v0.0.0\nreplace " + rootModule + " => ../\n",
		want:  []string{"requires " + rootModule + " v0.0.0, which go get cannot fetch; require a tagged version"},
	}, {
		name:  "a v0.0.0 pseudo-version fails",
		dir:   "bench",
		gomod: "module m\nreplace (\n\t" + rootModule + " => ../\n)\nrequire (\n\t" + rootModule + " v0.0.0-00010101000000-000000000000\n)\n",
		want:  []string{"requires " + rootModule + " v0.0.0-00010101000000-000000000000, which go get cannot fetch; require a tagged version"},
	}, {
		name:  "no replace fails",
		dir:   "bench",
		gomod: "module m\nrequire " + rootModule + " v0.1.0\n",
		want:  []string{"requires " + rootModule + " without a replace to this checkout"},
	}, {
		name:  "a replace outside the repo fails",
		dir:   "bench",
		gomod: "module m\nrequire " + rootModule + " v0.1.0\nreplace " + rootModule + " v0.1.0 => ../../elsewhere\n",
		want:  []string{"replaces " + rootModule + " with ../../elsewhere, not with this checkout"},
	}, {
		name:  "a replace by another version fails",
		dir:   "bench",
		gomod: "module m\nrequire " + rootModule + " v0.1.0\nreplace " + rootModule + " => example.com/fork v0.1.0\n",
		want:  []string{"replaces " + rootModule + " with example.com/fork v0.1.0, not with this checkout"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := checkGoMod(tt.dir, tt.gomod)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("checkGoMod problems (-want +got):\n%s", diff)
			}
		})
	}
}

// checkGoMod reads the require and replace directives of a go.mod in dir
// (relative to the repository root) and reports whether it requires the root
// module, and what is wrong with how it does.
func checkGoMod(dir, gomod string) (requires bool, problems []string) {
	var version, replacement string
	replaced := false
	block := ""
	for line := range strings.Lines(gomod) {
		line, _, _ = strings.Cut(line, "//")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
			continue
		case len(f) == 2 && f[1] == "(":
			block = f[0]
			continue
		case f[0] == ")":
			block = ""
			continue
		case block != "":
			f = append([]string{block}, f...)
		}
		if len(f) < 3 || strings.Trim(f[1], `"`) != rootModule {
			continue
		}
		switch f[0] {
		case "require":
			requires, version = true, f[2]
		case "replace":
			_, target, _ := strings.Cut(strings.Join(f[2:], " "), "=> ")
			replaced, replacement = true, target
		}
	}
	if !requires {
		return false, nil
	}
	if strings.HasPrefix(version, "v0.0.0") {
		problems = append(problems, "requires "+rootModule+" "+version+", which go get cannot fetch; require a tagged version")
	}
	switch {
	case !replaced:
		problems = append(problems, "requires "+rootModule+" without a replace to this checkout")
	case !strings.HasPrefix(replacement, ".") || filepath.Clean(filepath.Join(dir, replacement)) != ".":
		problems = append(problems, "replaces "+rootModule+" with "+replacement+", not with this checkout")
	}
	return true, problems
}
