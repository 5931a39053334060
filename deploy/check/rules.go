package check

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The roles chatgate has (cmd/chatgate, availableRoles), and what their processes default to.
var (
	// AllRoles are every role `chatgate run --roles` takes.
	AllRoles = []string{"ingress", "worker", "relay", "sender", "scheduler", "whatsapp"}

	defaultHTTPAddr  = ":8080"
	defaultAdminAddr = ":9090"
)

// Expect is what a rendering must contain besides the rules every rendering obeys.
type Expect struct {
	// Roles are the roles that must each run in a Deployment of their own.
	Roles []string
	// Ingress: the rendering has Ingresses (the stream's included).
	Ingress bool
	// Monitoring: the rendering has a ServiceMonitor and a PrometheusRule.
	Monitoring bool
	// NetworkPolicy: every pod is covered by a NetworkPolicy.
	NetworkPolicy bool
}

// problems collects what a check found, each naming the object.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// Check applies the deployment rules to a rendering and returns every problem found.
func Check(m *Manifests, want Expect) []string {
	var p problems
	checkNames(&p, m)
	byRole := map[string][]*appsv1.Deployment{}
	for _, d := range m.Deployments {
		roles := checkDeployment(&p, m, d)
		for _, r := range roles {
			byRole[r] = append(byRole[r], d)
		}
	}
	for _, r := range want.Roles {
		switch n := len(byRole[r]); {
		case n == 0:
			p.addf("no Deployment runs role %s", r)
		case n > 1:
			p.addf("role %s runs in %d Deployments, want one", r, n)
		}
	}
	for r := range byRole {
		if !slices.Contains(want.Roles, r) {
			p.addf("role %s runs, but it was not asked for", r)
		}
	}
	for _, d := range byRole["ingress"] {
		checkIngressRole(&p, m, d, want)
	}
	checkMigrations(&p, m)
	if want.Monitoring {
		checkMonitoring(&p, m, byRole)
	}
	if want.NetworkPolicy {
		checkNetworkPolicies(&p, m)
	}
	return p
}

// checkNames checks every object's name and labels as the API server would.
func checkNames(p *problems, m *Manifests) {
	type named struct {
		kind, name string
		labels     map[string]string
		dns1035    bool // Service names are DNS labels
	}
	var all []named
	for _, o := range m.Deployments {
		all = append(all, named{"Deployment", o.Name, o.Labels, false})
	}
	for _, o := range m.Services {
		all = append(all, named{"Service", o.Name, o.Labels, true})
	}
	for _, o := range m.Jobs {
		all = append(all, named{"Job", o.Name, o.Labels, false})
	}
	for _, o := range m.ConfigMaps {
		all = append(all, named{"ConfigMap", o.Name, o.Labels, false})
	}
	for _, o := range m.Secrets {
		all = append(all, named{"Secret", o.Name, o.Labels, false})
	}
	for _, o := range m.Ingresses {
		all = append(all, named{"Ingress", o.Name, o.Labels, false})
	}
	for _, o := range m.NetworkPolicies {
		all = append(all, named{"NetworkPolicy", o.Name, o.Labels, false})
	}
	for _, o := range m.PDBs {
		all = append(all, named{"PodDisruptionBudget", o.Name, o.Labels, false})
	}
	for _, o := range m.HPAs {
		all = append(all, named{"HorizontalPodAutoscaler", o.Name, o.Labels, false})
	}
	for _, o := range m.PVCs {
		all = append(all, named{"PersistentVolumeClaim", o.Name, o.Labels, false})
	}
	for _, o := range m.ServiceAccounts {
		all = append(all, named{"ServiceAccount", o.Name, o.Labels, false})
	}
	seen := map[string]bool{}
	for _, o := range all {
		check := validation.IsDNS1123Subdomain
		if o.dns1035 {
			check = validation.IsDNS1035Label
		}
		for _, e := range check(o.name) {
			p.addf("%s %q: name: %s", o.kind, o.name, e)
		}
		if key := o.kind + "/" + o.name; seen[key] {
			p.addf("%s %q is rendered twice", o.kind, o.name)
		} else {
			seen[key] = true
		}
		for k, v := range o.labels {
			for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
				p.addf("%s %q: label %s=%q: %s", o.kind, o.name, k, v, e)
			}
		}
	}
}

// RolesOf returns the roles a `chatgate run` command line runs (nil for another command).
func RolesOf(args []string) []string {
	if len(args) == 0 || args[0] != "run" {
		return nil
	}
	spec := ""
	for i, a := range args {
		if a == "--roles" && i+1 < len(args) {
			spec = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--roles="); ok {
			spec = v
		}
	}
	var roles []string
	for _, r := range strings.Split(spec, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, r)
		}
	}
	return roles
}

// env returns the environment a container starts with, as far as the rendering says:
// envFrom ConfigMaps and Secrets that are rendered, then env values (later ones win, as in
// the kubelet). Variables from a Secret that is not rendered (existingSecret) are unknown.
func env(m *Manifests, c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			for _, cm := range m.ConfigMaps {
				if cm.Name == ef.ConfigMapRef.Name {
					for k, v := range cm.Data {
						out[ef.Prefix+k] = v
					}
				}
			}
		case ef.SecretRef != nil:
			for _, s := range m.Secrets {
				if s.Name == ef.SecretRef.Name {
					for k, v := range s.StringData {
						out[ef.Prefix+k] = v
					}
					for k, v := range s.Data {
						out[ef.Prefix+k] = string(v)
					}
				}
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

// probePort returns the port a chatgate process with these roles and this environment serves
// /healthz, /readyz and /metrics on, by chatgate's rule (docs/configuration.md, "Roles"):
// CHATGATE_ADMIN_ADDR when set ("off": only the HTTP server), else :9090 without the ingress
// role; with it, the HTTP server's CHATGATE_HTTP_ADDR (:8080).
func probePort(roles []string, env map[string]string) (int, error) {
	addr := ""
	admin, set := env["CHATGATE_ADMIN_ADDR"]
	switch {
	case set && admin == "off":
	case set && admin != "":
		addr = admin
	case !slices.Contains(roles, "ingress"):
		addr = defaultAdminAddr
	}
	if addr == "" {
		if !slices.Contains(roles, "ingress") {
			return 0, fmt.Errorf("roles %v with CHATGATE_ADMIN_ADDR=off serve no probes", roles)
		}
		addr = defaultHTTPAddr
		if a := env["CHATGATE_HTTP_ADDR"]; a != "" {
			addr = a
		}
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("address %q: %w", addr, err)
	}
	return strconv.Atoi(port)
}

// containerPort resolves a probe's or a Service's port (a number or a name) in a container.
func containerPort(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

// checkDeployment checks one Deployment and returns the roles it runs.
func checkDeployment(p *problems, m *Manifests, d *appsv1.Deployment) []string {
	name := "Deployment " + d.Name
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		p.addf("%s: %d containers, want 1", name, len(spec.Containers))
		return nil
	}
	c := spec.Containers[0]
	roles := RolesOf(c.Args)
	if len(roles) != 1 {
		p.addf("%s: args %q run roles %v, want one role group per Deployment", name, c.Args, roles)
	}
	for _, r := range roles {
		if !slices.Contains(AllRoles, r) {
			p.addf("%s: unknown role %q", name, r)
		}
	}
	if d.Spec.Selector == nil || !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		p.addf("%s: the selector does not select the pod template's labels", name)
	}
	e := env(m, c)
	checkPod(p, name, spec, e)
	port, err := probePort(roles, e)
	if err != nil {
		p.addf("%s: %v", name, err)
		return roles
	}
	declared := slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return int(cp.ContainerPort) == port })
	if !declared {
		p.addf("%s: container ports %v do not include %d, where roles %v serve their probes", name, c.Ports, port, roles)
	}
	for _, pr := range []struct {
		kind, path string
		probe      *corev1.Probe
	}{
		{"startupProbe", "/healthz", c.StartupProbe},
		{"readinessProbe", "/readyz", c.ReadinessProbe},
		{"livenessProbe", "/healthz", c.LivenessProbe},
	} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			p.addf("%s: no %s (GET %s)", name, pr.kind, pr.path)
			continue
		}
		got := containerPort(c, pr.probe.HTTPGet.Port)
		if pr.probe.HTTPGet.Path != pr.path || got != port {
			p.addf("%s: %s is GET %s on port %s (%d), want GET %s on %d", name, pr.kind,
				pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port.String(), got, pr.path, port)
		}
	}
	if s := c.StartupProbe; s != nil {
		budget := time.Duration(max(s.PeriodSeconds, 1)*max(s.FailureThreshold, 1)) * time.Second
		if t, ok := duration(e, "CHATGATE_STARTUP_TIMEOUT", 60*time.Second); ok && budget < t {
			p.addf("%s: the startup probe gives up after %s, before CHATGATE_STARTUP_TIMEOUT (%s)", name, budget, t)
		}
	}
	if ann := d.Spec.Template.Annotations; ann["prometheus.io/scrape"] == "true" && ann["prometheus.io/port"] != strconv.Itoa(port) {
		p.addf("%s: prometheus.io/port %q, but /metrics is on %d", name, ann["prometheus.io/port"], port)
	}
	if slices.Contains(roles, "whatsapp") {
		if len(roles) != 1 || d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			p.addf("%s: whatsapp with roles %v, %v replicas, strategy %q; want it alone, 1 replica, Recreate",
				name, roles, ptrString(d.Spec.Replicas), d.Spec.Strategy.Type)
		}
		checkMediaVolume(p, m, name, spec, c, e)
	}
	if slices.Contains(roles, "worker") && d.Spec.Replicas != nil {
		if parts, err := strconv.Atoi(e["CHATGATE_KAFKA_PARTITIONS"]); err == nil && int(*d.Spec.Replicas) > parts {
			p.addf("%s: %d workers for %d partitions: the ones beyond idle", name, *d.Spec.Replicas, parts)
		}
	}
	return roles
}

// checkPod checks what every chatgate pod needs: hardening, resources, a writable /tmp, and
// a grace period that lets a stop finish.
func checkPod(p *problems, name string, spec corev1.PodSpec, e map[string]string) {
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		p.addf("%s: the ServiceAccount token is mounted; chatgate calls no Kubernetes API", name)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		p.addf("%s: shares a host namespace", name)
	}
	for _, c := range spec.Containers {
		cname := name + " container " + c.Name
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		if !isTrue(sc.RunAsNonRoot) && !isTrue(psc.RunAsNonRoot) {
			p.addf("%s: runAsNonRoot is not set", cname)
		}
		if u := firstInt64(sc.RunAsUser, psc.RunAsUser); u != nil && *u == 0 {
			p.addf("%s: runs as uid 0", cname)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			p.addf("%s: allowPrivilegeEscalation is not false", cname)
		}
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			p.addf("%s: readOnlyRootFilesystem is not true", cname)
		}
		if isTrue(sc.Privileged) {
			p.addf("%s: privileged", cname)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			p.addf("%s: capabilities do not drop ALL", cname)
		} else if len(sc.Capabilities.Add) > 0 {
			p.addf("%s: adds capabilities %v", cname, sc.Capabilities.Add)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			p.addf("%s: no seccomp profile (RuntimeDefault)", cname)
		}
		req, lim := c.Resources.Requests, c.Resources.Limits
		if req.Cpu().IsZero() || req.Memory().IsZero() {
			p.addf("%s: resources.requests lack cpu or memory (%v)", cname, req)
		}
		if lim.Memory().IsZero() {
			p.addf("%s: resources.limits lack memory", cname)
		}
		if !mountsEmptyDir(spec, c, "/tmp") {
			p.addf("%s: no emptyDir on /tmp (the root filesystem is read-only)", cname)
		}
	}
	if t, ok := duration(e, "CHATGATE_SHUTDOWN_TIMEOUT", 15*time.Second); ok && e != nil {
		grace := 30 * time.Second
		if spec.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
		}
		if grace <= t {
			p.addf("%s: terminationGracePeriodSeconds (%s) is not above CHATGATE_SHUTDOWN_TIMEOUT (%s)", name, grace, t)
		}
	}
}

// checkMediaVolume checks that the whatsapp role's media directory is a volume.
func checkMediaVolume(p *problems, m *Manifests, name string, spec corev1.PodSpec, c corev1.Container, e map[string]string) {
	dir := e["CHATGATE_WHATSAPP_MEDIA_DIR"]
	if dir == "" {
		p.addf("%s: CHATGATE_WHATSAPP_MEDIA_DIR is not set (media would go to the read-only root)", name)
		return
	}
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != dir {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if pvc := v.PersistentVolumeClaim; pvc != nil {
				// A claim the chart makes must be rendered; an existing claim is the user's.
				if slices.ContainsFunc(m.PVCs, func(o *corev1.PersistentVolumeClaim) bool { return o.Name == pvc.ClaimName }) ||
					!strings.HasSuffix(pvc.ClaimName, "-whatsapp-media") {
					return
				}
				p.addf("%s: claim %q is not rendered", name, pvc.ClaimName)
				return
			}
			if v.EmptyDir != nil {
				return
			}
		}
	}
	p.addf("%s: no volume mounted on CHATGATE_WHATSAPP_MEDIA_DIR %s", name, dir)
}

// checkIngressRole checks what is in front of the ingress role: the Service, the Ingresses,
// the autoscaler and the disruption budget.
func checkIngressRole(p *problems, m *Manifests, d *appsv1.Deployment, want Expect) {
	c := d.Spec.Template.Spec.Containers[0]
	httpPort := 8080
	if a := env(m, c)["CHATGATE_HTTP_ADDR"]; a != "" {
		if _, ps, err := net.SplitHostPort(a); err == nil {
			httpPort, _ = strconv.Atoi(ps)
		}
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	var svc *corev1.Service
	for _, s := range m.Services {
		if s.Spec.ClusterIP == corev1.ClusterIPNone || len(s.Spec.Selector) == 0 {
			continue
		}
		if labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			svc = s
		}
	}
	if svc == nil {
		p.addf("Deployment %s: no Service selects the ingress pods", d.Name)
	} else {
		for _, sp := range svc.Spec.Ports {
			if got := containerPort(c, sp.TargetPort); got != httpPort {
				p.addf("Service %s: port %s targets %s (%d), not the HTTP port %d", svc.Name, sp.Name, sp.TargetPort.String(), got, httpPort)
			}
		}
		for _, other := range m.Deployments {
			if other != d && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(other.Spec.Template.Labels)) {
				p.addf("Service %s also selects the pods of %s, which serve no HTTP API", svc.Name, other.Name)
			}
		}
	}
	for _, h := range m.HPAs {
		if h.Spec.ScaleTargetRef.Name == d.Name {
			if d.Spec.Replicas != nil {
				p.addf("Deployment %s: sets replicas though HPA %s scales it (every upgrade would reset them)", d.Name, h.Name)
			}
		} else {
			p.addf("HPA %s scales %q, not the ingress Deployment", h.Name, h.Spec.ScaleTargetRef.Name)
		}
	}
	if want.Ingress {
		checkIngresses(p, m, svc)
	}
}

// checkIngresses checks that the Ingresses route the console, the webhooks and the APIs to
// the Service, and the event stream through one with buffering off and a long timeout.
func checkIngresses(p *problems, m *Manifests, svc *corev1.Service) {
	if len(m.Ingresses) == 0 {
		p.addf("no Ingress")
		return
	}
	for _, path := range []string{"/", "/webhooks/twilio/messages", "/v1/tickets/unassigned", "/v1/stream"} {
		ing, hp := route(m, path)
		if hp == nil {
			p.addf("no Ingress routes %s", path)
			continue
		}
		if b := hp.Backend.Service; b == nil || svc == nil || b.Name != svc.Name {
			p.addf("Ingress %s routes %s elsewhere than the ingress role's Service", ing.Name, path)
		}
		if ing.Annotations["nginx.ingress.kubernetes.io/proxy-buffering"] != "off" {
			p.addf("Ingress %s: proxy-buffering is not off for %s", ing.Name, path)
		}
		if path == "/v1/stream" {
			t, _ := strconv.Atoi(ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
			if t < 600 {
				p.addf("Ingress %s: proxy-read-timeout %ds for the event stream, want at least 600", ing.Name, t)
			}
		}
	}
}

// route returns the Ingress path that serves path: the longest matching prefix, as
// ingress-nginx picks it.
func route(m *Manifests, path string) (*networkingv1.Ingress, *networkingv1.HTTPIngressPath) {
	var best *networkingv1.HTTPIngressPath
	var bestIng *networkingv1.Ingress
	for _, ing := range m.Ingresses {
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for i := range r.HTTP.Paths {
				hp := &r.HTTP.Paths[i]
				match := hp.Path == path
				if hp.PathType != nil && *hp.PathType == networkingv1.PathTypePrefix {
					pre := strings.TrimSuffix(hp.Path, "/")
					match = pre == "" || path == pre || strings.HasPrefix(path, pre+"/")
				}
				if match && (best == nil || len(hp.Path) > len(best.Path)) {
					best, bestIng = hp, ing
				}
			}
		}
	}
	return bestIng, best
}

// checkMigrations checks the migrations Job: a pre-install and pre-upgrade hook that runs
// `chatgate migrate` with only what exists before the release's resources do.
func checkMigrations(p *problems, m *Manifests) {
	var jobs []*batchv1.Job
	for _, j := range m.Jobs {
		if c := j.Spec.Template.Spec.Containers; len(c) == 1 && slices.Equal(c[0].Args, []string{"migrate"}) {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) != 1 {
		p.addf("%d migrations Jobs (args [migrate]), want 1", len(jobs))
		return
	}
	j := jobs[0]
	name := "Job " + j.Name
	hooks := strings.Split(j.Annotations["helm.sh/hook"], ",")
	if !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
		p.addf("%s: helm.sh/hook %q, want pre-install,pre-upgrade", name, j.Annotations["helm.sh/hook"])
	}
	if !slices.Contains(strings.Split(j.Annotations["helm.sh/hook-delete-policy"], ","), "before-hook-creation") {
		p.addf("%s: helm.sh/hook-delete-policy %q lacks before-hook-creation", name, j.Annotations["helm.sh/hook-delete-policy"])
	}
	if rp := j.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever && rp != corev1.RestartPolicyOnFailure {
		p.addf("%s: restartPolicy %q", name, rp)
	}
	checkPod(p, name, j.Spec.Template.Spec, nil)
	weight, _ := strconv.Atoi(j.Annotations["helm.sh/hook-weight"])
	// During pre-install only hooks of a lower weight exist: a rendered ConfigMap, Secret
	// or ServiceAccount the Job needs must be one of them.
	before := func(a map[string]string) bool {
		w, _ := strconv.Atoi(a["helm.sh/hook-weight"])
		return strings.Contains(a["helm.sh/hook"], "pre-install") && w < weight
	}
	c := j.Spec.Template.Spec.Containers[0]
	var secretRefs, cmRefs []string
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			secretRefs = append(secretRefs, ef.SecretRef.Name)
		}
		if ef.ConfigMapRef != nil {
			cmRefs = append(cmRefs, ef.ConfigMapRef.Name)
		}
	}
	hasURL := false
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretRefs = append(secretRefs, e.ValueFrom.SecretKeyRef.Name)
			hasURL = hasURL || e.Name == "CHATGATE_DATABASE_URL"
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			cmRefs = append(cmRefs, e.ValueFrom.ConfigMapKeyRef.Name)
		}
	}
	if !hasURL && len(secretRefs) == 0 {
		p.addf("%s: reads CHATGATE_DATABASE_URL from no Secret", name)
	}
	for _, s := range m.Secrets {
		if slices.Contains(secretRefs, s.Name) && !before(s.Annotations) {
			p.addf("%s: reads Secret %s, which does not exist yet when the pre-install hook runs", name, s.Name)
		}
	}
	for _, cm := range m.ConfigMaps {
		if slices.Contains(cmRefs, cm.Name) && !before(cm.Annotations) {
			p.addf("%s: reads ConfigMap %s, which does not exist yet when the pre-install hook runs", name, cm.Name)
		}
	}
	if sa := j.Spec.Template.Spec.ServiceAccountName; sa != "" {
		for _, o := range m.ServiceAccounts {
			if o.Name == sa && !before(o.Annotations) {
				p.addf("%s: runs as ServiceAccount %s, which does not exist yet when the pre-install hook runs", name, sa)
			}
		}
	}
}

// checkMonitoring checks that the ServiceMonitor reaches every role's /metrics and that the
// PrometheusRule has rules.
func checkMonitoring(p *problems, m *Manifests, byRole map[string][]*appsv1.Deployment) {
	if len(m.ServiceMonitors) != 1 || len(m.PrometheusRules) != 1 {
		p.addf("%d ServiceMonitors and %d PrometheusRules, want one each", len(m.ServiceMonitors), len(m.PrometheusRules))
		return
	}
	sm := m.ServiceMonitors[0]
	sel := labels.SelectorFromSet(sm.Spec.Selector.MatchLabels)
	for role, ds := range byRole {
		for _, d := range ds {
			c := d.Spec.Template.Spec.Containers[0]
			port, err := probePort(RolesOf(c.Args), env(m, c))
			if err != nil {
				continue // reported by checkDeployment
			}
			found := false
			for _, s := range m.Services {
				if !sel.Matches(labels.Set(s.Labels)) || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
					continue
				}
				for _, sp := range s.Spec.Ports {
					for _, ep := range sm.Spec.Endpoints {
						if ep.Port == sp.Name && containerPort(c, sp.TargetPort) == port && ep.Path == "/metrics" {
							found = true
						}
					}
				}
			}
			if !found {
				p.addf("ServiceMonitor %s does not scrape /metrics of role %s (port %d)", sm.Name, role, port)
			}
		}
	}
	rules := 0
	for _, g := range m.PrometheusRules[0].Spec.Groups {
		for _, r := range g.Rules {
			if r.Expr.String() == "" {
				p.addf("PrometheusRule %s: group %s: a rule without expr", m.PrometheusRules[0].Name, g.Name)
			}
			rules++
		}
	}
	if rules == 0 {
		p.addf("PrometheusRule %s has no rules", m.PrometheusRules[0].Name)
	}
}

// checkNetworkPolicies checks that every chatgate pod is covered by a NetworkPolicy that
// lets its probe and metrics port in.
func checkNetworkPolicies(p *problems, m *Manifests) {
	for _, d := range m.Deployments {
		c := d.Spec.Template.Spec.Containers[0]
		port, err := probePort(RolesOf(c.Args), env(m, c))
		if err != nil {
			continue
		}
		covered, open := false, false
		for _, np := range m.NetworkPolicies {
			sel := labels.SelectorFromSet(np.Spec.PodSelector.MatchLabels)
			if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				continue
			}
			covered = true
			for _, rule := range np.Spec.Ingress {
				for _, rp := range rule.Ports {
					if rp.Port != nil && containerPort(c, *rp.Port) == port {
						open = true
					}
				}
			}
		}
		if !covered {
			p.addf("Deployment %s: no NetworkPolicy selects its pods", d.Name)
		} else if !open {
			p.addf("Deployment %s: its NetworkPolicies let nothing reach port %d (probes, metrics)", d.Name, port)
		}
	}
}

// mountsEmptyDir reports whether container c has an emptyDir volume mounted at path.
func mountsEmptyDir(spec corev1.PodSpec, c corev1.Container, path string) bool {
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != path {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}

// duration reads a Go duration from env, with def when it is not set; ok is false when env
// is unknown (nil) or the value does not parse (chatgate refuses it at start-up anyway).
func duration(env map[string]string, key string, def time.Duration) (time.Duration, bool) {
	if env == nil {
		return 0, false
	}
	v, set := env[key]
	if !set {
		return def, true
	}
	d, err := time.ParseDuration(v)
	return d, err == nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstInt64(vs ...*int64) *int64 {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func ptrString(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}
