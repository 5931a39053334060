package check

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Helm finds the helm binary: $HELM, else the one scripts/ensure-helm.sh installs in the
// repository's .cache/bin, else helm on PATH. repoRoot is the repository's top directory.
func Helm(repoRoot string) (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		return h, nil
	}
	local := filepath.Join(repoRoot, ".cache", "bin", "helm")
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	h, err := exec.LookPath("helm")
	if err != nil {
		return "", errors.New("no helm: run scripts/ensure-helm.sh (make deploy-check does) or set HELM")
	}
	return h, nil
}

// RunHelm runs helm with args and returns its standard output; a failure carries its
// standard error, where helm says what is wrong.
func RunHelm(ctx context.Context, helm string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, helm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %q: %w\n%s", args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// Manifests are the objects of one rendering, decoded into their Kubernetes API types.
type Manifests struct {
	Deployments     []*appsv1.Deployment
	Services        []*corev1.Service
	ConfigMaps      []*corev1.ConfigMap
	Secrets         []*corev1.Secret
	ServiceAccounts []*corev1.ServiceAccount
	PVCs            []*corev1.PersistentVolumeClaim
	Jobs            []*batchv1.Job
	PDBs            []*policyv1.PodDisruptionBudget
	HPAs            []*autoscalingv2.HorizontalPodAutoscaler
	Ingresses       []*networkingv1.Ingress
	NetworkPolicies []*networkingv1.NetworkPolicy
	ServiceMonitors []*monitoringv1.ServiceMonitor
	PrometheusRules []*monitoringv1.PrometheusRule
	// Count is the number of objects in all.
	Count int
}

// Decode splits a multi-document YAML rendering and decodes every object strictly into the
// API type of its apiVersion and kind: an unknown kind, an unknown or misspelt field (also
// one differing only in case), a duplicate key or a value of the wrong type is an error.
func Decode(rendered []byte) (*Manifests, error) {
	m := &Manifests{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w\n%s", n, err, doc)
		}
		if string(bytes.TrimSpace(js)) == "null" {
			continue // only comments
		}
		var tm metav1.TypeMeta
		if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if err := m.add(tm, js); err != nil {
			return nil, fmt.Errorf("document %d (%s %s): %w\n%s", n, tm.APIVersion, tm.Kind, err, doc)
		}
	}
}

// add decodes one object into its type and appends it.
func (m *Manifests) add(tm metav1.TypeMeta, js []byte) error {
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		m.Deployments, obj = append(m.Deployments, o), o
	case "v1 Service":
		o := &corev1.Service{}
		m.Services, obj = append(m.Services, o), o
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		m.ConfigMaps, obj = append(m.ConfigMaps, o), o
	case "v1 Secret":
		o := &corev1.Secret{}
		m.Secrets, obj = append(m.Secrets, o), o
	case "v1 ServiceAccount":
		o := &corev1.ServiceAccount{}
		m.ServiceAccounts, obj = append(m.ServiceAccounts, o), o
	case "v1 PersistentVolumeClaim":
		o := &corev1.PersistentVolumeClaim{}
		m.PVCs, obj = append(m.PVCs, o), o
	case "batch/v1 Job":
		o := &batchv1.Job{}
		m.Jobs, obj = append(m.Jobs, o), o
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		m.PDBs, obj = append(m.PDBs, o), o
	case "autoscaling/v2 HorizontalPodAutoscaler":
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		m.HPAs, obj = append(m.HPAs, o), o
	case "networking.k8s.io/v1 Ingress":
		o := &networkingv1.Ingress{}
		m.Ingresses, obj = append(m.Ingresses, o), o
	case "networking.k8s.io/v1 NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		m.NetworkPolicies, obj = append(m.NetworkPolicies, o), o
	case "monitoring.coreos.com/v1 ServiceMonitor":
		o := &monitoringv1.ServiceMonitor{}
		m.ServiceMonitors, obj = append(m.ServiceMonitors, o), o
	case "monitoring.coreos.com/v1 PrometheusRule":
		o := &monitoringv1.PrometheusRule{}
		m.PrometheusRules, obj = append(m.PrometheusRules, o), o
	default:
		return fmt.Errorf("kind %q of apiVersion %q is not one the chart should render (add it to check.Manifests)", tm.Kind, tm.APIVersion)
	}
	m.Count++
	return strictUnmarshal(js, obj)
}

// strictUnmarshal decodes JSON the way the API server's strict field validation does: field
// names match case-sensitively, and unknown or duplicate fields are errors.
func strictUnmarshal(js []byte, into any) error {
	strict, err := kjson.UnmarshalStrict(js, into)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}
