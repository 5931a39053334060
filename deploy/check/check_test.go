package check

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes/chatgate.yaml from the chart")

const (
	repoRoot   = "../.."
	chartDir   = "../helm/chatgate"
	fullValues = "../helm/chatgate/ci/full-values.yaml"
	plainDir   = "../kubernetes"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm returns the helm binary; without one the checks cannot run, which is a failure.
func helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() { helmPath, helmErr = Helm(repoRoot) })
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

// template renders a chart with `helm template` and decodes the result strictly.
func template(t *testing.T, chart, release string, args ...string) (*Manifests, error) {
	t.Helper()
	out, err := RunHelm(t.Context(), helm(t), append([]string{"template", release, chart, "--namespace", "chatgate"}, args...)...)
	if err != nil {
		return nil, err
	}
	return Decode(out)
}

// allRolesBut returns AllRoles without the given ones.
func allRolesBut(but ...string) []string {
	return slices.DeleteFunc(slices.Clone(AllRoles), func(r string) bool { return slices.Contains(but, r) })
}

func TestHelmLint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default values", nil},
		{"full values", []string{"-f", fullValues}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := RunHelm(t.Context(), helm(t), append([]string{"lint", "--strict", chartDir}, tc.args...)...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The chart, rendered with its default values and with every option on, holds every rule.
func TestChartRendersEveryRoleHardenedAndProbed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		expect Expect
		kinds  map[string]int
	}{
		{
			name:   "default values",
			expect: Expect{Roles: allRolesBut("whatsapp"), NetworkPolicy: true},
			kinds: map[string]int{"Deployment": 5, "Service": 1, "ConfigMap": 1, "Secret": 0, "Job": 1,
				"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 5, "NetworkPolicy": 6, "Ingress": 0,
				"ServiceMonitor": 0, "PrometheusRule": 0, "PersistentVolumeClaim": 0},
		},
		{
			name:   "full values",
			args:   []string{"-f", fullValues},
			expect: Expect{Roles: AllRoles, Ingress: true, Monitoring: true, NetworkPolicy: true},
			kinds: map[string]int{"Deployment": 6, "Service": 7, "ConfigMap": 1, "Secret": 2, "Job": 1,
				"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 4, "NetworkPolicy": 7, "Ingress": 2,
				"ServiceMonitor": 1, "PrometheusRule": 1, "PersistentVolumeClaim": 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := template(t, chartDir, "chatgate", tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if p := Check(m, tc.expect); len(p) > 0 {
				t.Fatalf("%d problems:\n%s", len(p), strings.Join(p, "\n"))
			}
			got := map[string]int{
				"Deployment": len(m.Deployments), "Service": len(m.Services), "ConfigMap": len(m.ConfigMaps),
				"Secret": len(m.Secrets), "Job": len(m.Jobs), "HorizontalPodAutoscaler": len(m.HPAs),
				"PodDisruptionBudget": len(m.PDBs), "NetworkPolicy": len(m.NetworkPolicies), "Ingress": len(m.Ingresses),
				"ServiceMonitor": len(m.ServiceMonitors), "PrometheusRule": len(m.PrometheusRules), "PersistentVolumeClaim": len(m.PVCs),
			}
			for k, want := range tc.kinds {
				if got[k] != want {
					t.Errorf("%d %s objects, want %d", got[k], k, want)
				}
			}
		})
	}
}

// An upgrade must run the migrations again: the Job's name differs between revisions (a
// Job's spec cannot change, and a name kept would collide with the last Job).
func TestMigrationsJobIsNamedPerRevision(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		values map[string]any
	}{
		{"existing secret", nil},
		{"chart-made secret", map[string]any{"existingSecret": "", "secret": map[string]any{"CHATGATE_DATABASE_URL": "postgres://u:p@db/chatgate"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if p := checkRevisions(t, chartDir, tc.values); len(p) > 0 {
				t.Fatal(strings.Join(p, "\n"))
			}
		})
	}
}

// checkRevisions renders revisions 1 and 2 and returns what is wrong with their Jobs.
func checkRevisions(t *testing.T, chart string, values map[string]any) []string {
	t.Helper()
	var jobNames []string
	var p []string
	for rev := 1; rev <= 2; rev++ {
		out, err := RenderRevision(chart, values, "chatgate", rev)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		p = append(p, Check(m, Expect{Roles: allRolesBut("whatsapp")})...)
		for _, j := range m.Jobs {
			jobNames = append(jobNames, j.Name)
		}
	}
	if len(jobNames) != 2 || jobNames[0] == jobNames[1] {
		p = append(p, "migrations Jobs of revisions 1 and 2 are named "+strings.Join(jobNames, ", ")+": want one each, named apart")
	}
	return p
}

// mutated copies the chart into a temporary directory with one replacement made in one of
// its files, failing the test if the text to replace is not there (the case would then test
// nothing).
func mutated(t *testing.T, file, old, new string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "chatgate")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q: update this case", file, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The checks catch a broken chart: each case breaks one rule, by a value a user might set or
// by a change to a template, and the checks must say so.
func TestChecksCatchABrokenChart(t *testing.T) {
	t.Parallel()
	full := Expect{Roles: AllRoles, Ingress: true, Monitoring: true, NetworkPolicy: true}
	def := Expect{Roles: allRolesBut("whatsapp"), NetworkPolicy: true}
	for _, tc := range []struct {
		name   string
		chart  func(t *testing.T) string // nil: the chart as it is
		args   []string
		expect Expect
		want   string // in a problem, or in the decoding error
	}{
		{name: "writable root filesystem", args: []string{"--set", "containerSecurityContext.readOnlyRootFilesystem=false"},
			expect: def, want: "readOnlyRootFilesystem is not true"},
		{name: "root user", args: []string{"--set", "podSecurityContext.runAsUser=0,podSecurityContext.runAsNonRoot=false,containerSecurityContext.runAsNonRoot=false"},
			expect: def, want: "runs as uid 0"},
		{name: "capabilities kept", args: []string{"--set", "containerSecurityContext.capabilities=null"},
			expect: def, want: "capabilities do not drop ALL"},
		{name: "no seccomp profile", args: []string{"--set", "podSecurityContext.seccompProfile=null,containerSecurityContext.seccompProfile=null"},
			expect: def, want: "no seccomp profile"},
		{name: "no resources", args: []string{"--set", "roles.worker.resources.requests=null"},
			expect: def, want: "resources.requests lack cpu or memory"},
		{name: "grace period shorter than the shutdown", args: []string{"--set", "terminationGracePeriodSeconds=10"},
			expect: def, want: "is not above CHATGATE_SHUTDOWN_TIMEOUT"},
		{name: "startup probe gives up before the start-up timeout", args: []string{"--set", "probes.startup.failureThreshold=2"},
			expect: def, want: "before CHATGATE_STARTUP_TIMEOUT"},
		{name: "whatsapp asked for but off", expect: full, want: "no Deployment runs role whatsapp"},
		{
			name: "no readiness probe",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/deployments.yaml", "readinessProbe:", "x-readinessProbe:")
			},
			expect: def, want: `unknown field "spec.template.spec.containers[0].x-readinessProbe"`,
		},
		{
			name: "readiness probe removed",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/deployments.yaml", `          readinessProbe:
            httpGet:
              path: /readyz
              port: {{ $portName }}
            periodSeconds: {{ $.Values.probes.readiness.periodSeconds }}
            timeoutSeconds: {{ $.Values.probes.readiness.timeoutSeconds }}
            failureThreshold: {{ $.Values.probes.readiness.failureThreshold }}
`, "")
			},
			expect: def, want: "no readinessProbe (GET /readyz)",
		},
		{
			name: "process serves its probes elsewhere",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/deployments.yaml", "- name: CHATGATE_ADMIN_ADDR\n              value: \":{{ $port }}\"",
					"- name: CHATGATE_ADMIN_ADDR\n              value: \":9999\"")
			},
			expect: def, want: "do not include 9999",
		},
		{
			name: "a misspelt field",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/deployments.yaml", "revisionHistoryLimit:", "revisionHistoryLimt:")
			},
			expect: def, want: `unknown field "spec.revisionHistoryLimt"`,
		},
		{
			name: "a field in the wrong case",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/deployments.yaml", "revisionHistoryLimit:", "RevisionHistoryLimit:")
			},
			expect: def, want: `unknown field "spec.RevisionHistoryLimit"`,
		},
		{
			name:   "sender dropped",
			chart:  func(t *testing.T) string { return mutated(t, "templates/_helpers.tpl", `"relay" "sender"`, `"relay"`) },
			expect: def, want: "no Deployment runs role sender",
		},
		{
			name: "whatsapp rolled instead of recreated",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/deployments.yaml", "type: Recreate", "type: RollingUpdate")
			},
			args: []string{"-f", fullValues}, expect: full, want: "want it alone, 1 replica, Recreate",
		},
		{
			name: "migrations only on install",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/migrations-job.yaml", "helm.sh/hook: pre-install,pre-upgrade", "helm.sh/hook: pre-install")
			},
			expect: def, want: "want pre-install,pre-upgrade",
		},
		{
			name: "migrations read the release's Secret",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/migrations-job.yaml", `{{ include "chatgate.fullname" . }}-migrate{{ end }}`, `{{ include "chatgate.fullname" . }}{{ end }}`)
			},
			args: []string{"-f", fullValues}, expect: full, want: "does not exist yet when the pre-install hook runs",
		},
		{
			name: "stream buffered",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/ingress.yaml", `nginx.ingress.kubernetes.io/proxy-buffering: "off"`, `nginx.ingress.kubernetes.io/proxy-buffering: "on"`)
			},
			args: []string{"-f", fullValues}, expect: full, want: "proxy-buffering is not off for /v1/stream",
		},
		{
			name: "metrics Service on the HTTP port for every role",
			chart: func(t *testing.T) string {
				return mutated(t, "templates/metrics-services.yaml", `targetPort: {{ include "chatgate.probePortName" $sel }}`, "targetPort: http")
			},
			args: []string{"-f", fullValues}, expect: full, want: "does not scrape /metrics of role worker",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chart := chartDir
			if tc.chart != nil {
				chart = tc.chart(t)
			}
			m, err := template(t, chart, "chatgate", tc.args...)
			if err != nil {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
				t.Fatalf("render: %v; want a problem with %q", err, tc.want)
			}
			p := Check(m, tc.expect)
			if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Fatalf("no problem with %q among %d:\n%s", tc.want, len(p), strings.Join(p, "\n"))
			}
		})
	}
}

// A chart whose Job keeps its name across revisions is caught.
func TestChecksCatchAJobNamedTheSameInEveryRevision(t *testing.T) {
	t.Parallel()
	chart := mutated(t, "templates/migrations-job.yaml", "-migrate-{{ .Release.Revision }}", "-migrate")
	p := checkRevisions(t, chart, nil)
	if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, "named apart") }) {
		t.Fatalf("no problem about the Job's name among:\n%s", strings.Join(p, "\n"))
	}
}

// The chart refuses values that cannot work, saying what to change.
func TestChartRefusesValuesThatCannotWork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"more workers than partitions", []string{"--set", "roles.worker.replicaCount=30"}, "exceeds config.kafkaPartitions"},
		{"whatsapp on the nowhatsapp image", []string{"--set", "roles.whatsapp.enabled=true,image.repository=example.com/chatgate-nowhatsapp"}, "has no WhatsApp channel"},
		{"no database URL", []string{"--set", "existingSecret="}, "CHATGATE_DATABASE_URL"},
		{"a variable the chart sets", []string{"--set", "config.env.CHATGATE_ADMIN_ADDR=:1"}, "the chart sets CHATGATE_ADMIN_ADDR itself"},
		{"an unknown value", []string{"--set", "roles.worker.replicas=3"}, "replicas"},
		{"a misspelt role", []string{"--set", "roles.workers.replicaCount=3"}, "workers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := template(t, chartDir, "chatgate", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("helm template %v: %v; want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}

// plainHeader starts deploy/kubernetes/chatgate.yaml.
const plainHeader = `# chatgate on Kubernetes without Helm: the chart in deploy/helm/chatgate rendered with
# deploy/kubernetes/values.yaml. Generated: do not edit; change the chart or the values and run
#   make deploy-check UPDATE=1
# (make deploy-check fails while this file and the chart disagree). Apply it after creating
# the Secret chatgate (README.md here):
#   kubectl apply -f deploy/kubernetes/chatgate.yaml
`

// deploy/kubernetes/chatgate.yaml is the chart's rendering, so the plain manifests and the
// chart cannot drift apart; cmd/chatgate's TestDeployKubernetesRunsEveryRoleWithProbes holds
// the same file against chatgate's own configuration rules.
func TestPlainManifestsAreTheChartRendered(t *testing.T) {
	t.Parallel()
	out, err := RunHelm(t.Context(), helm(t), "template", "chatgate", chartDir, "-f", filepath.Join(plainDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(plainHeader), out...)
	path := filepath.Join(plainDir, "chatgate.yaml")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not the chart rendered with %s/values.yaml: run make deploy-check UPDATE=1", path, plainDir)
	}
	m, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if p := Check(m, Expect{Roles: AllRoles, NetworkPolicy: true}); len(p) > 0 {
		t.Fatal(strings.Join(p, "\n"))
	}
}

// composeDir copies deploy/compose.yaml (with one replacement, when old is not empty) and
// an env file written by deploy/make-env.sh into a temporary directory.
func composeDir(t *testing.T, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("compose.yaml does not contain %q: update this case", old)
		}
		b = bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), "../make-env.sh", filepath.Join(dir, ".env")).CombinedOutput(); err != nil {
		t.Fatalf("make-env.sh: %v\n%s", err, out)
	}
	return dir
}

func TestComposeRunsEveryRoleInOrder(t *testing.T) {
	t.Parallel()
	dir := composeDir(t, "", "")
	p, err := LoadCompose(t.Context(), filepath.Join(dir, "compose.yaml"), filepath.Join(dir, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	if problems := CheckCompose(p); len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}
	// The tokens come from the env file make-env.sh wrote.
	env, err := os.ReadFile(filepath.Join(dir, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	var tokens map[string]string
	if err := yaml.Unmarshal(bytes.ReplaceAll(env, []byte("="), []byte(": ")), &tokens); err != nil {
		t.Fatal(err)
	}
	if got := value(p.Services["chatgate-ingress"].Environment, "CHATGATE_API_TOKEN"); got == "" || got != tokens["CHATGATE_API_TOKEN"] {
		t.Fatalf("chatgate-ingress has CHATGATE_API_TOKEN %q, want the one in .env", got)
	}
}

func TestComposeChecksCatchABrokenFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"kafka without a healthcheck", `      test: ["CMD", "/opt/kafka/bin/kafka-broker-api-versions.sh", "--bootstrap-server", "localhost:9092"]`,
			`      disable: true`, "service kafka: no healthcheck"},
		{"roles start before the migrations", "migrate: {condition: service_completed_successfully}", "migrate: {condition: service_started}",
			"depends on migrate"},
		{"no sender", `command: ["run", "--roles", "sender"]`, `command: ["run", "--roles", "relay"]`, "no compose service runs role sender"},
		{"a writable root", "  read_only: true\n", "  read_only: false\n", "want read_only"},
		{"an unknown key", "  restart: unless-stopped\n  read_only: true", "  restart: unless-stopped\n  readonly: true", "readonly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := composeDir(t, tc.old, tc.new)
			p, err := LoadCompose(t.Context(), filepath.Join(dir, "compose.yaml"), filepath.Join(dir, ".env"))
			if err != nil {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
				t.Fatalf("load: %v; want a problem with %q", err, tc.want)
			}
			problems := CheckCompose(p)
			if !slices.ContainsFunc(problems, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Fatalf("no problem with %q among:\n%s", tc.want, strings.Join(problems, "\n"))
			}
		})
	}
}

// Every value of values.yaml is described in the chart's README: its path (or the path of
// a value that holds it, such as a security context) appears there in backquotes, with
// roles.<role> standing for any role, and `.key` after a sibling's path for values documented
// on one row. The schema needs no such test: helm lint validates values.yaml against it, and
// it refuses unknown keys.
func TestEveryValueIsDocumented(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	documented := func(path []string) bool {
		for n := len(path); n > 0; n-- {
			for _, p := range [][]string{path[:n], genericRole(path[:n])} {
				full := "`" + strings.Join(p, ".") + "`"
				if bytes.Contains(readme, []byte(full)) {
					return true
				}
				parent, last := "`"+strings.Join(p[:len(p)-1], ".")+".", "`."+p[len(p)-1]+"`"
				for _, l := range lines {
					if len(p) > 1 && strings.Contains(l, parent) && strings.Contains(l, last) {
						return true
					}
				}
			}
		}
		return false
	}
	var walk func(prefix []string, m map[string]any)
	walk = func(prefix []string, m map[string]any) {
		for k, v := range m {
			path := append(slices.Clone(prefix), k)
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(path, sub)
				continue
			}
			if !documented(path) {
				t.Errorf("value %s is not described in the chart's README.md", strings.Join(path, "."))
			}
		}
	}
	walk(nil, values)
}

// genericRole writes roles.<role> for roles.ingress, roles.worker, ….
func genericRole(path []string) []string {
	if len(path) < 2 || path[0] != "roles" {
		return path
	}
	return append([]string{"roles", "<role>"}, path[2:]...)
}

func TestDockerfileBuildsBothVariantsStaticAndNonroot(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{name: "as it is"},
		{"nowhatsapp built with WhatsApp", "-buildvcs=false -tags nowhatsapp", "-buildvcs=false", "-tags nowhatsapp wrong"},
		{"a base with a shell", "FROM gcr.io/distroless/static:nonroot AS runtime", "FROM debian:bookworm AS runtime", "runs on debian:bookworm"},
		{"no revision label", `org.opencontainers.image.revision="${REVISION}"`, "", "no label org.opencontainers.image.revision"},
		{"dynamic binary", "RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \\\n", "RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \\\n", "is not static"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := src
			if tc.old != "" {
				if !bytes.Contains(b, []byte(tc.old)) {
					t.Fatalf("Dockerfile does not contain %q: update this case", tc.old)
				}
				b = bytes.Replace(b, []byte(tc.old), []byte(tc.new), 1)
			}
			stages, err := ParseDockerfile(b)
			if err != nil {
				t.Fatal(err)
			}
			p := CheckDockerfile(stages)
			if tc.want == "" {
				if len(p) > 0 {
					t.Fatal(strings.Join(p, "\n"))
				}
				return
			}
			if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Fatalf("no problem with %q among:\n%s", tc.want, strings.Join(p, "\n"))
			}
		})
	}
}
