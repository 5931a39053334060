package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// runDepartments runs `chatgate departments ARGS --database-url URL`.
func runDepartments(t *testing.T, dbURL string, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCLI(t, newDepartmentsCmd, dbURL, args...)
	return out, err
}

func mustRunDepartments(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	out, _ := mustRunCLI(t, newDepartmentsCmd, dbURL, args...)
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func departmentVersions(t *testing.T, dbURL string) map[string]int {
	t.Helper()
	pool, err := postgres.Connect(context.Background(), dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(context.Background(), `SELECT id, version FROM departments`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var v int
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

func TestR3_DepartmentsCLIApplyTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	file := filepath.Join("..", "..", "deploy", "departments.example.yaml")

	out := mustRunDepartments(t, db, "apply", "-f", file, "--dry-run")
	if !strings.Contains(out, "2 departments: 2 would be created, 0 would be updated, 0 would be deleted, 0 unchanged") {
		t.Fatalf("dry run:\n%s", out)
	}
	if n := len(departmentVersions(t, db)); n != 0 {
		t.Fatalf("dry run wrote %d departments", n)
	}
	out = mustRunDepartments(t, db, "apply", "-f", file)
	if !strings.Contains(out, "2 departments: 2 created, 0 updated, 0 deleted, 0 unchanged") || !strings.Contains(out, "created  sales") {
		t.Fatalf("first apply:\n%s", out)
	}
	out = mustRunDepartments(t, db, "apply", "-f", file)
	if !strings.Contains(out, "2 departments: 0 created, 0 updated, 0 deleted, 2 unchanged") {
		t.Fatalf("second apply:\n%s", out)
	}
	if v := departmentVersions(t, db); v["support"] != 1 || v["sales"] != 1 {
		t.Fatalf("versions after applying twice: %v", v)
	}

	// Export, then apply the export: still nothing to do, and the export
	// holds the same departments as the file.
	exported := filepath.Join(t.TempDir(), "export.yaml")
	mustRunDepartments(t, db, "export", "-o", exported)
	out = mustRunDepartments(t, db, "apply", "-f", exported, "--prune")
	if !strings.Contains(out, "0 created, 0 updated, 0 deleted, 2 unchanged") {
		t.Fatalf("apply of the export:\n%s", out)
	}
	data, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "  - id: sales\n    name: Sales\n    time_zone: Europe/Lisbon\n    schedule:\n      monday: [\"09:00-18:00\"]\n") {
		t.Fatalf("export does not read like the file:\n%s", data)
	}

	// Changing one department and dropping the other: with --prune the
	// dropped one is deleted.
	one := writeFile(t, "one.yaml", `departments:
  - id: sales
    time_zone: Europe/Lisbon
    routing: {keywords: [buy]}
`)
	out = mustRunDepartments(t, db, "apply", "-f", one)
	if !strings.Contains(out, "0 created, 1 updated, 0 deleted, 1 unchanged") {
		t.Fatalf("apply without prune:\n%s", out)
	}
	out = mustRunDepartments(t, db, "apply", "-f", one, "--prune", "--dry-run")
	if !strings.Contains(out, "would delete  support") || len(departmentVersions(t, db)) != 2 {
		t.Fatalf("dry run with prune:\n%s", out)
	}
	out = mustRunDepartments(t, db, "apply", "-f", one, "--prune")
	if !strings.Contains(out, "0 created, 0 updated, 1 deleted, 1 unchanged") {
		t.Fatalf("apply with prune:\n%s", out)
	}
	if v := departmentVersions(t, db); len(v) != 1 || v["sales"] != 2 {
		t.Fatalf("after prune: %v", v)
	}
}

func TestR3_DepartmentsCLIRefusesInvalidFiles(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	cases := []struct{ name, file, want string }{
		{"unknown zone and inverted interval", `departments:
  - id: support
    time_zone: Mars/Base
    schedule: {monday: ["17:00-08:00"]}
`, `department "support": schedule.monday[0]: "17:00-08:00" ends before it starts`},
		{"misspelt field", `departments:
  - id: support
    timezone: UTC
`, `unknown field "timezone"`},
		{"two defaults", `- {id: a, time_zone: UTC, routing: {default: true}}
- {id: b, time_zone: UTC, routing: {default: true}}
`, `routing.default`},
		{"empty", "# nothing\n", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runDepartments(t, db, "apply", "-f", writeFile(t, "bad.yaml", c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
			}
		})
	}
	if n := len(departmentVersions(t, db)); n != 0 {
		t.Fatalf("invalid files stored %d departments", n)
	}
}

// The example under deploy/ stays valid: it parses strictly, validates as
// a set, and survives an export round trip unchanged.
func TestDepartmentsExampleFileIsValid(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "departments.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	deps, err := parseDepartmentsFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) < 2 {
		t.Fatalf("example has %d departments", len(deps))
	}
	if _, err := ticketing.NewDirectory(deps, nil); err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
	for i := range deps {
		if err := deps[i].Validate(); err != nil { // normalize, as the store keeps them
			t.Fatal(err)
		}
	}
	out, err := marshalDepartmentsFile(deps)
	if err != nil {
		t.Fatal(err)
	}
	back, err := parseDepartmentsFile(out)
	if err != nil {
		t.Fatalf("export does not parse: %v\n%s", err, out)
	}
	want, _ := json.Marshal(deps)
	got, _ := json.Marshal(back)
	if !bytes.Equal(got, want) {
		t.Fatalf("round trip changed the departments:\n%s", out)
	}
}

// A dry run says what it would do on every line (as templates apply does).
func TestR3_DepartmentsApplyDryRunLinesSayWould(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	file := filepath.Join("..", "..", "deploy", "departments.example.yaml")
	out := mustRunDepartments(t, db, "apply", "-f", file, "--dry-run")
	checkDryRun(t, out, []string{"would create ", "would create "})
	mustRunDepartments(t, db, "apply", "-f", file)
	checkDryRun(t, mustRunDepartments(t, db, "apply", "-f", writeFile(t, "none.yaml", "departments: []\n"), "--prune", "--dry-run"),
		[]string{"would delete ", "would delete "})
}
