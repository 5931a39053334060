// Package check holds the offline checks of chatgate's deployment files: the Helm chart in
// deploy/helm/chatgate, rendered by helm and decoded strictly into the Kubernetes API types,
// and deploy/compose.yaml, loaded with the compose-spec loader. It is a Go module of its own
// so that the Kubernetes and compose libraries stay out of chatgate's module.
package check
