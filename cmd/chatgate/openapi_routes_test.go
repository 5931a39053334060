package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/stream"
	tplapi "github.com/chatgate/chatgate/templates/opsapi"
	"github.com/chatgate/chatgate/ticketing/deskapi"
	deptapi "github.com/chatgate/chatgate/ticketing/opsapi"
)

// Every route chatgate mounts is in the OpenAPI document it serves, with
// its method: the document is the integrators' contract.
func TestEveryRouteIsInTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	s := startStack(t, startBroker(t), pgtest.URL(t))
	resp, err := http.Get(s.base + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	patterns := []string{apichannel.Pattern, twilio.MessagesPattern, twilio.StatusPattern, stream.Pattern}
	for _, rt := range (&tplapi.Handlers{}).Routes() {
		patterns = append(patterns, rt.Pattern)
	}
	for _, rt := range (&deptapi.Handlers{}).Routes() {
		patterns = append(patterns, rt.Pattern)
	}
	for _, rt := range (&deskapi.Handlers{}).Routes() {
		patterns = append(patterns, rt.Pattern)
	}
	for _, p := range patterns {
		method, path, _ := strings.Cut(p, " ")
		if doc.Paths[path][strings.ToLower(method)] == nil {
			t.Errorf("%s is mounted but not documented in openapi.yaml", p)
		}
	}
}
