package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

const cliTemplatesFile = `templates:
  - name: order_shipped
    language: pt-BR
    category: utility
    channel: whatsapp
    status: approved
    body: "Olá {{1}}, o pedido {{2}} saiu."
  - name: order_shipped
    language: en
    category: utility
    channel: whatsapp
    body: "Hi {{1}}, order {{2}} has shipped."
  - name: otp
    language: en
    category: authentication
    channel: sms
    body: "{{1}} is your code."
`

// runTemplates runs `chatgate templates ARGS --database-url URL`.
func runTemplates(t *testing.T, dbURL string, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCLI(t, newTemplatesCmd, dbURL, args...)
	return out, err
}

func mustRunTemplates(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	out, _ := mustRunCLI(t, newTemplatesCmd, dbURL, args...)
	return out
}

func TestR30_TemplatesCLIApplyTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	file := filepath.Join(t.TempDir(), "templates.yaml")
	if err := os.WriteFile(file, []byte(cliTemplatesFile), 0o600); err != nil {
		t.Fatal(err)
	}

	out := mustRunTemplates(t, db, "apply", "-f", file, "--dry-run")
	if !strings.Contains(out, "3 templates: 3 would be created, 0 would be updated") {
		t.Fatalf("dry run:\n%s", out)
	}
	if out := mustRunTemplates(t, db, "list"); strings.Contains(out, "order_shipped") {
		t.Fatalf("dry run wrote:\n%s", out)
	}
	out = mustRunTemplates(t, db, "apply", "-f", file)
	if !strings.Contains(out, "3 templates: 3 created, 0 updated, 0 status changed, 0 unchanged") ||
		!strings.Contains(out, "order_shipped (pt_BR)  version 1  approved") {
		t.Fatalf("first apply:\n%s", out)
	}
	out = mustRunTemplates(t, db, "apply", "-f", file)
	if !strings.Contains(out, "3 templates: 0 created, 0 updated, 0 status changed, 3 unchanged") {
		t.Fatalf("second apply:\n%s", out)
	}

	// Export, then apply the export: still nothing to do.
	exported := filepath.Join(t.TempDir(), "export.yaml")
	mustRunTemplates(t, db, "export", "-o", exported)
	out = mustRunTemplates(t, db, "apply", "-f", exported)
	if !strings.Contains(out, "3 unchanged") {
		t.Fatalf("apply of the export:\n%s", out)
	}
}

func TestR30_TemplatesCLICommands(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	file := filepath.Join(t.TempDir(), "templates.yaml")
	if err := os.WriteFile(file, []byte(cliTemplatesFile), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRunTemplates(t, db, "apply", "-f", file)

	out := mustRunTemplates(t, db, "list", "--status", "draft")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "order_shipped  en") ||
		!strings.HasPrefix(lines[2], "otp") {
		t.Fatalf("list --status draft:\n%s", out)
	}

	// otp exists in one language: --language may be left out.
	if out := mustRunTemplates(t, db, "approve", "otp"); out != "otp (en) version 1 is approved\n" {
		t.Fatalf("approve otp: %q", out)
	}
	if _, err := runTemplates(t, db, "approve", "order_shipped"); err == nil || !strings.Contains(err.Error(), "en, pt_BR") {
		t.Fatalf("approve without language = %v, want the languages listed", err)
	}
	mustRunTemplates(t, db, "approve", "order_shipped", "--language", "en")
	if out := mustRunTemplates(t, db, "disable", "order_shipped", "--language", "EN"); out != "order_shipped (en) version 1 is disabled\n" {
		t.Fatalf("disable: %q", out)
	}
	if _, err := runTemplates(t, db, "disable", "order_shipped", "--language", "en"); err == nil || !strings.Contains(err.Error(), `cannot change from "disabled"`) {
		t.Fatalf("disable twice = %v, want an illegal transition", err)
	}
	if _, err := runTemplates(t, db, "reject", "order_shipped", "--language", "pt_BR"); err == nil || !strings.Contains(err.Error(), `from "approved" to "rejected"`) {
		t.Fatalf("reject approved = %v, want refused", err)
	}

	// An edit of the approved pt_BR copy (no status in the file: a draft), then rejected.
	edit := filepath.Join(t.TempDir(), "edit.yaml")
	if err := os.WriteFile(edit, []byte(strings.Replace(cliTemplatesFile, "    status: approved\n", "", 1)+
		"  - name: order_shipped\n    language: pt_BR\n    category: utility\n    channel: whatsapp\n    body: \"Oi {{1}}, pedido {{2}} enviado.\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runTemplates(t, db, "apply", "-f", edit); err == nil || !strings.Contains(err.Error(), "templates[3].name: order_shipped (pt_BR) is also templates[0]") {
		t.Fatalf("apply with a repeated template = %v", err)
	}
	edited := strings.Replace(strings.Replace(cliTemplatesFile, "    status: approved\n", "", 1), "Olá", "Oi", 1)
	if err := os.WriteFile(edit, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRunTemplates(t, db, "apply", "-f", edit); !strings.Contains(out, "1 updated") {
		t.Fatalf("apply edit:\n%s", out)
	}
	if out := mustRunTemplates(t, db, "reject", "order_shipped", "--language", "pt_BR"); out != "order_shipped (pt_BR) version 2 is rejected\n" {
		t.Fatalf("reject: %q", out)
	}

	out = mustRunTemplates(t, db, "show", "order_shipped", "--language", "pt-br")
	for _, want := range []string{"name: order_shipped\n", "language: pt_BR\n", "status: rejected\n", "live_version: 1\n", "version: 2\n", "Oi {{1}}"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%s", want, out)
		}
	}
	if _, err := runTemplates(t, db, "show", "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("show nope = %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("templates:\n  - name: Bad-Name\n    language: en\n    category: utility\n    body: \"{{2}}\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runTemplates(t, db, "apply", "-f", bad)
	if err == nil || !strings.Contains(err.Error(), "nothing applied:\n  templates[0].name:") || !strings.Contains(err.Error(), "templates[0].body:") {
		t.Fatalf("apply of an invalid file = %v", err)
	}
}

// A dry run says what it would do on every line, never "created" (issue
// 19: each line of `templates apply --dry-run` said "created").
func TestR30_TemplatesApplyDryRunLinesSayWould(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	file := writeFile(t, "templates.yaml", cliTemplatesFile)
	checkDryRun(t, mustRunTemplates(t, db, "apply", "-f", file, "--dry-run"), []string{
		"would create order_shipped (pt_BR)", "would create order_shipped (en)", "would create otp (en)"})

	mustRunTemplates(t, db, "apply", "-f", file)
	edited := strings.Replace(cliTemplatesFile, "Hi {{1}}", "Hello {{1}}", 1)
	edited = strings.Replace(edited, "    channel: sms\n", "    channel: sms\n    status: approved\n", 1)
	checkDryRun(t, mustRunTemplates(t, db, "apply", "-f", writeFile(t, "edit.yaml", edited), "--dry-run"), []string{
		"unchanged order_shipped (pt_BR)", "would update order_shipped (en)", "would change status otp (en)"})
}

// checkDryRun fails unless every line but the summary starts with the
// words of want, in order, and nothing claims to be done.
func checkDryRun(t *testing.T, out string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want)+1 {
		t.Fatalf("dry run printed %d lines, want %d and a summary:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		// Columns are aligned with spaces; compare words.
		if !strings.HasPrefix(strings.Join(strings.Fields(lines[i]), " "), w) {
			t.Fatalf("dry run line %d = %q, want %q…:\n%s", i, lines[i], w, out)
		}
	}
	for _, done := range []string{"created", "updated", "deleted", "status changed"} {
		if strings.Contains(strings.Join(lines[:len(want)], "\n"), done) {
			t.Fatalf("a dry run line says %q:\n%s", done, out)
		}
	}
}
