package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// The version comes from the build info: module version, VCS revision and
// dirty flag (issue 19: a build from a git checkout printed "dev").
func TestVersion_FromBuildInfo(t *testing.T) {
	t.Parallel()
	stamped := func(modified string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/chatgate/chatgate", Version: "v0.0.0-20261203120000-755f0c3abcde+dirty"},
				Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "755f0c3abcdef0123456789abcdef0123456789a"},
					{Key: "vcs.time", Value: "2026-12-03T12:00:00Z"}, {Key: "vcs.modified", Value: modified}}}, true
		}
	}
	unstamped := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	cases := []struct {
		name     string
		override string
		read     func() (*debug.BuildInfo, bool)
		want     string
	}{
		{"dirty checkout", "", stamped("true"),
			"chatgate v0.0.0-20261203120000-755f0c3abcde+dirty (revision 755f0c3abcdef0123456789abcdef0123456789a, 2026-12-03T12:00:00Z, dirty, go1.26.8)"},
		{"clean checkout", "", stamped("false"),
			"chatgate v0.0.0-20261203120000-755f0c3abcde+dirty (revision 755f0c3abcdef0123456789abcdef0123456789a, 2026-12-03T12:00:00Z, clean, go1.26.8)"},
		{"release with -X", "v1.2.3", stamped("false"),
			"chatgate v1.2.3 (revision 755f0c3abcdef0123456789abcdef0123456789a, 2026-12-03T12:00:00Z, clean, go1.26.8)"},
		{"go run", "", unstamped, "chatgate devel (no VCS revision, go1.26.8)"},
		{"no build info", "", none, "chatgate devel (no VCS revision)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := readBuild(tc.override, tc.read).String(); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// `chatgate --version` and `chatgate version` print the same line, the
// build's.
func TestVersion_FlagAndCommandAgree(t *testing.T) {
	t.Parallel()
	var outs []string
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out, errOut bytes.Buffer
		if err := execute(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("chatgate %s: %v\n%s", args[0], err, errOut.String())
		}
		outs = append(outs, out.String())
	}
	want := build.String() + "\n"
	if outs[0] != want || outs[1] != want || !strings.Contains(want, runtime.Version()) || strings.Contains(want, " dev ") {
		t.Fatalf("--version %q, version %q, want both %q", outs[0], outs[1], want)
	}
}
