package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway"
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

// projectDocs are the documents of the project: README.md, CHANGELOG.md,
// CONTRIBUTING.md, docs/*.md and deploy/**/*.md, as paths relative to the
// repository.
func projectDocs(t *testing.T) []string {
	t.Helper()
	docs := []string{"README.md", "CHANGELOG.md", "CONTRIBUTING.md"}
	for _, dir := range []string{"docs", "deploy"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".md") && (dir == "deploy" || filepath.Dir(path) == filepath.Join(repoRoot, "docs")) {
				rel, err := filepath.Rel(repoRoot, path)
				if err != nil {
					return err
				}
				docs = append(docs, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return docs
}

// No document of the project refers to a file outside the repository
// (issue 19: several cited a SPEC.md that is not in it): no mention of the
// design files kept outside, and every relative link resolves to a file or
// directory of the repository; links to rules.md#rN name a rule there.
func TestDocs_NoDocumentRefersOutsideTheRepository(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	rules := readDoc(t, "docs/rules.md")
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range projectDocs(t) {
		text := readDoc(t, doc)
		for _, outside := range []string{"SPEC.md", "DESIGN.md", "STYLE.md", "DEPENDENCIES.md", "../shared"} {
			if strings.Contains(text, outside) {
				t.Errorf("%s refers to %s, which is not in the repository", doc, outside)
			}
		}
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := filepath.Join(root, filepath.Dir(doc), file)
			if file == "" {
				path = filepath.Join(root, doc)
			}
			if rel, err := filepath.Rel(root, path); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links to %s, outside the repository", doc, target)
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, target)
				continue
			}
			if filepath.Base(path) == "rules.md" && regexp.MustCompile(`^r[0-9]+$`).MatchString(anchor) &&
				!strings.Contains(rules, `<a id="`+anchor+`"></a>`) {
				t.Errorf("%s links to rule %s, which docs/rules.md does not have", doc, target)
			}
		}
	}
}

// docs/rules.md is the rules' home: every rule R1–R50 once, with its anchor.
func TestDocs_RulesHaveEveryRuleWithItsAnchor(t *testing.T) {
	t.Parallel()
	rules := readDoc(t, "docs/rules.md")
	for n := 1; n <= 50; n++ {
		item := fmt.Sprintf(`<a id="r%d"></a>**R%d** `, n, n)
		if c := strings.Count(rules, item); c != 1 {
			t.Errorf("docs/rules.md has rule R%d %d times, want once (%q)", n, c, item)
		}
	}
}

// Every CHATGATE_* variable the code reads (a string literal in a Go file
// that is not a test) is in docs/configuration.md (issue 19: two were
// missing).
func TestDocs_EveryVariableIsDocumented(t *testing.T) {
	t.Parallel()
	doc := readDoc(t, "docs/configuration.md")
	for _, v := range goSourceMatches(t, regexp.MustCompile(`"(CHATGATE_[A-Z0-9_]*[A-Z0-9])`)) {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("%s is read by the code but not in docs/configuration.md", v)
		}
	}
}

// docs/events.md orders delivery statuses as gateway.DeliveryStatus.Rank
// does (issue 19: it called failed final while read outranks it).
func TestDocs_EventsStatusOrderIsTheCodesRank(t *testing.T) {
	t.Parallel()
	doc := readDoc(t, "docs/events.md")
	m := regexp.MustCompile("Statuses only move forward, by rank: ([a-z <]+)\n").FindStringSubmatch(doc)
	if m == nil {
		t.Fatal(`docs/events.md does not give the statuses' order ("Statuses only move forward, by rank: queued < …")`)
	}
	order := strings.Split(m[1], " < ")
	all := []gateway.DeliveryStatus{gateway.StatusQueued, gateway.StatusSending, gateway.StatusSent, gateway.StatusDelivered, gateway.StatusFailed, gateway.StatusRead}
	if len(order) != len(all) {
		t.Fatalf("docs/events.md orders %v, want all of %v", order, all)
	}
	for i := 1; i < len(order); i++ {
		lo, hi := gateway.DeliveryStatus(order[i-1]), gateway.DeliveryStatus(order[i])
		if !lo.Valid() || !hi.Valid() || lo.Rank() >= hi.Rank() {
			t.Errorf("docs/events.md puts %s before %s; the code ranks them %d and %d", lo, hi, lo.Rank(), hi.Rank())
		}
	}
	if strings.Contains(doc, "failed is final") {
		t.Error("docs/events.md says failed is final; read outranks it")
	}
}

// Only cmd/chatgate reads the environment (docs/architecture.md): channel
// and other packages take typed configs, so a variable has one reader, one
// default and errors that name it. pgtest reads CHATGATE_TEST_DATABASE_URL
// for the tests alone; a module of its own (deploy/check, the deployment's
// checks) is not chatgate's code.
func TestOnlyTheCommandReadsTheEnvironment(t *testing.T) {
	t.Parallel()
	read := regexp.MustCompile(`\bos\.(Getenv|LookupEnv|Environ|ExpandEnv)\(`)
	allowed := []string{"cmd/chatgate/", "gateway/postgres/pgtest/"}
	readers := 0
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != repoRoot && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != repoRoot {
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
		if !read.Match(src) {
			return nil
		}
		readers++
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !slices.ContainsFunc(allowed, func(dir string) bool { return strings.HasPrefix(rel, dir) }) {
			t.Errorf("%s reads the environment; read the variable in cmd/chatgate and hand the package a typed config", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if readers == 0 {
		t.Fatalf("no Go file under %s reads the environment: the scan is broken", repoRoot)
	}
}
