package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version is chatgate's version as logs and /healthz report it. A release
// build may set it with -ldflags "-X main.version=v1.2.3"; otherwise it is
// the module version from the build info, which the go command derives
// from the git checkout (v0.0.0-20261203120000-755f0c3abcde+dirty) or sets
// to (devel) for go run and go test.
var version = ""

// build describes the running binary; `chatgate version` and
// `chatgate --version` print it.
var build = readBuild(version, debug.ReadBuildInfo)

func init() { version = build.Version }

// buildDescription is what the build info says about a binary.
type buildDescription struct {
	Version  string // module version, or the -X override
	Revision string // VCS revision, "" if the build was not stamped
	Time     string // commit time of Revision
	Modified bool   // the checkout had uncommitted changes
	Go       string // Go version that built it
}

// readBuild reads the build info; override, if set, is the version.
func readBuild(override string, read func() (*debug.BuildInfo, bool)) buildDescription {
	b := buildDescription{Version: override}
	if info, ok := read(); ok {
		if b.Version == "" {
			b.Version = info.Main.Version
		}
		b.Go = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" || b.Version == "(devel)" {
		b.Version = "devel"
	}
	return b
}

// String is one line: version, then revision, commit time, dirty flag and
// Go version, e.g. "chatgate v0.0.0-20261203120000-755f0c3abcde+dirty
// (revision 755f0c3abcde…, 2026-12-03T12:00:00Z, dirty, go1.26.8)".
func (b buildDescription) String() string {
	var parts []string
	if b.Revision == "" {
		parts = append(parts, "no VCS revision")
	} else {
		parts = append(parts, "revision "+b.Revision)
		if b.Time != "" {
			parts = append(parts, b.Time)
		}
		if b.Modified {
			parts = append(parts, "dirty")
		} else {
			parts = append(parts, "clean")
		}
	}
	if b.Go != "" {
		parts = append(parts, b.Go)
	}
	return fmt.Sprintf("chatgate %s (%s)", b.Version, strings.Join(parts, ", "))
}
