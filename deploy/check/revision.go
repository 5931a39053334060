package check

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
)

// RenderRevision renders the chart in chartDir as `helm upgrade` would for the given release
// revision: `helm template` always renders revision 1, and what must differ between
// revisions (the migrations Job's name) can only be seen this way. values are the user's
// values, as from a values file; the chart's schema is applied as on an install.
func RenderRevision(chartDir string, values map[string]any, release string, revision int) ([]byte, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	opts := common.ReleaseOptions{Name: release, Namespace: "default", Revision: revision, IsUpgrade: revision > 1, IsInstall: revision == 1}
	vals, err := util.ToRenderValuesWithSchemaValidation(chrt, values, opts, common.DefaultCapabilities, false)
	if err != nil {
		return nil, fmt.Errorf("values for revision %d: %w", revision, err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render revision %d: %w", revision, err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if path.Base(name) != "NOTES.txt" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out strings.Builder
	for _, name := range names {
		if body := strings.TrimSpace(files[name]); body != "" {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, body)
		}
	}
	return []byte(out.String()), nil
}
