package grid

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exportedOptions lists the exported With… functions of the package's
// non-test files: what `go doc ./grid` shows as options.
func exportedOptions(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		if f.Name.Name != "grid" {
			continue
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if ok && fn.Recv == nil && fn.Name.IsExported() && strings.HasPrefix(fn.Name.Name, "With") {
				names = append(names, fn.Name.Name)
			}
		}
	}
	sort.Strings(names)
	return names
}

// TestControlsPageListsEveryOption: CONTROLS.md lists every exported
// option of the package, as `WithX(…)`, and names none that does not exist.
func TestControlsPageListsEveryOption(t *testing.T) {
	page, err := os.ReadFile("CONTROLS.md")
	require.NoError(t, err)
	opts := exportedOptions(t)
	require.Greater(t, len(opts), 40, "the parse found the package's options")
	known := map[string]bool{}
	for _, name := range opts {
		known[name] = true
		assert.True(t, strings.Contains(string(page), "`"+name+"("), "CONTROLS.md does not list %s", name)
	}
	// Options of other packages (exchange.WithLaneQueue) are written
	// qualified; grid's bare or as grid.WithX.
	for _, m := range regexp.MustCompile(`\b(\w+\.)?(With[A-Z][A-Za-z]*)\(`).FindAllStringSubmatch(string(page), -1) {
		if m[1] != "" && m[1] != "grid." {
			continue
		}
		name := m[2]
		assert.True(t, known[name], "CONTROLS.md names %s, which package grid does not export", name)
	}
}
