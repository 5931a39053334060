package main

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// k8sObject is the part of a Kubernetes manifest the deployment checks read.
type k8sObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
	Spec struct {
		Replicas *int `json:"replicas"`
		Strategy struct {
			Type string `json:"type"`
		} `json:"strategy"`
		Template struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Containers []k8sContainer `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

type k8sContainer struct {
	Args  []string `json:"args"`
	Env   []struct{ Name, Value string }
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	StartupProbe, ReadinessProbe, LivenessProbe *k8sProbe
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port any    `json:"port"` // a name or a number
	} `json:"httpGet"`
}

// rolesFromArgs returns the roles a `chatgate run` command line runs.
func rolesFromArgs(t *testing.T, args []string) []string {
	t.Helper()
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
	roles, err := parseRoles(spec)
	if err != nil {
		t.Fatalf("command line %q: %v", args, err)
	}
	return roles
}

// Defect: deploy/kubernetes ran no sender and no whatsapp process, and its
// worker pods had no probes and no HTTP server but scrape annotations.
func TestDeployKubernetesRunsEveryRoleWithProbes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/kubernetes/chatgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var objs []k8sObject
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var o k8sObject
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("parse manifest: %v\n%s", err, doc)
		}
		objs = append(objs, o)
	}
	configMap := map[string]string{}
	for _, o := range objs {
		if o.Kind == "ConfigMap" && o.Metadata.Name == "chatgate" {
			configMap = o.Data
		}
	}

	covered := map[string]string{} // role → Deployment
	for _, o := range objs {
		if o.Kind != "Deployment" {
			continue
		}
		t.Run(o.Metadata.Name, func(t *testing.T) {
			if len(o.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(o.Spec.Template.Spec.Containers))
			}
			c := o.Spec.Template.Spec.Containers[0]
			roles := rolesFromArgs(t, c.Args)
			if len(roles) == 0 {
				t.Fatalf("args %q run no role", c.Args)
			}
			for _, r := range roles {
				covered[r] = o.Metadata.Name
			}

			// The port the process serves its probes on, by chatgate's
			// own rules, from the ConfigMap and the container's env.
			env := map[string]string{}
			for k, v := range configMap {
				env[k] = v
			}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			cfg, err := loadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatalf("configuration of %s: %v", o.Metadata.Name, err)
			}
			addr := cfg.HTTPAddr
			if a, ok := cfg.adminAddr(roles); ok {
				addr = a
			} else if !slices.Contains(roles, roleIngress) {
				t.Fatalf("roles %v serve no /healthz, /readyz or /metrics", roles)
			}
			_, portStr, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := strconv.Atoi(portStr)

			ports := map[string]int{}
			declared := false
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
				declared = declared || p.ContainerPort == want
			}
			if !declared {
				t.Errorf("container ports %v do not include %d, where roles %v serve their probes", c.Ports, want, roles)
			}
			for _, probe := range []struct {
				name, path string
				p          *k8sProbe
			}{
				{"startupProbe", "/healthz", c.StartupProbe},
				{"readinessProbe", "/readyz", c.ReadinessProbe},
				{"livenessProbe", "/healthz", c.LivenessProbe},
			} {
				if probe.p == nil || probe.p.HTTPGet == nil {
					t.Errorf("no %s", probe.name)
					continue
				}
				port := 0
				switch v := probe.p.HTTPGet.Port.(type) {
				case string:
					port = ports[v]
				case float64:
					port = int(v)
				}
				if probe.p.HTTPGet.Path != probe.path || port != want {
					t.Errorf("%s = GET %s on port %v (%d), want GET %s on %d", probe.name, probe.p.HTTPGet.Path, probe.p.HTTPGet.Port, port, probe.path, want)
				}
			}
			ann := o.Spec.Template.Metadata.Annotations
			if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(want) {
				t.Errorf("scrape annotations %v, want prometheus.io/scrape true on port %d", ann, want)
			}
			if slices.Contains(roles, roleWhatsApp) {
				if o.Spec.Replicas == nil || *o.Spec.Replicas != 1 || o.Spec.Strategy.Type != "Recreate" || len(roles) != 1 {
					t.Errorf("whatsapp: roles %v, replicas %v, strategy %q; want whatsapp alone, 1 replica, Recreate",
						roles, o.Spec.Replicas, o.Spec.Strategy.Type)
				}
			}
		})
	}
	for _, r := range availableRoles {
		if covered[r] == "" {
			t.Errorf("no Deployment runs role %s", r)
		}
	}
}

func TestDeployComposeRunsEveryRole(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command []string `json:"command"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	covered := map[string]bool{}
	for name, svc := range compose.Services {
		roles := rolesFromArgs(t, svc.Command)
		if slices.Contains(roles, roleWhatsApp) && len(roles) != 1 {
			t.Errorf("service %s runs whatsapp with %v: keep the singleton alone", name, roles)
		}
		for _, r := range roles {
			covered[r] = true
		}
	}
	for _, r := range availableRoles {
		if !covered[r] {
			t.Errorf("no compose service runs role %s", r)
		}
	}
}
