package httpapi

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Every $ref in the OpenAPI document must point at a component that exists:
// a dangling reference breaks every generated client.
func TestOpenAPIReferencesResolve(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	var walk func(path string, v any)
	refs := 0
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "$ref" {
					refs++
					ref, _ := child.(string)
					if !resolves(doc, ref) {
						t.Errorf("%s: $ref %q does not resolve", path, ref)
					}
					continue
				}
				walk(path+"/"+k, child)
			}
		case []any:
			for _, child := range v {
				walk(path+"[]", child)
			}
		}
	}
	walk("", doc)
	if refs == 0 {
		t.Fatal("no $ref found: the document was not read")
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/channels/api/messages", "/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		if paths[p] == nil {
			t.Errorf("path %s is not documented", p)
		}
	}
}

func resolves(doc map[string]any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
