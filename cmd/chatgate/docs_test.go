package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory, seen from this package.
const repoRoot = "../.."

// goSourceMatches returns the distinct first submatches of re in the
// repository's Go files that are not tests, sorted.
func goSourceMatches(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != repoRoot && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			seen[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatalf("no match of %s in the Go sources under %s: the scan is broken", re, repoRoot)
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every metric the code defines (a Name: "chatgate_…" in its options) is
// in docs/metrics.md.
func TestDocs_MetricsAreDocumented(t *testing.T) {
	t.Parallel()
	doc := readDoc(t, "docs/metrics.md")
	for _, name := range goSourceMatches(t, regexp.MustCompile(`Name:\s+"(chatgate_[a-z0-9_]+)"`)) {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("metric %s is not in docs/metrics.md", name)
		}
	}
}
