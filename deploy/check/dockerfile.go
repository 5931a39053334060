package check

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Stage is one build stage of a Dockerfile: its base, its name and its instructions, each
// with continuation lines joined.
type Stage struct {
	From, Name   string
	Instructions []string
}

// ParseDockerfile splits a Dockerfile into its stages. It reads what the checks need (FROM,
// and the instructions as text), not the whole syntax: no heredocs, no parser directives
// beyond comments.
func ParseDockerfile(src []byte) ([]Stage, error) {
	var stages []Stage
	var cur strings.Builder
	flush := func() error {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return nil
		}
		word, rest, _ := strings.Cut(line, " ")
		if strings.EqualFold(word, "FROM") {
			f := strings.Fields(rest)
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--platform=") })
			st := Stage{From: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			return nil
		}
		if len(stages) == 0 {
			if strings.EqualFold(word, "ARG") {
				return nil // global build arguments
			}
			return fmt.Errorf("%q before the first FROM", line)
		}
		stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, line)
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") || (t == "" && cur.Len() == 0) {
			continue
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " "), "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return stages, flush()
}

// CheckDockerfile applies the image rules: two targets, chatgate (the last stage, so the
// default) and chatgate-nowhatsapp, each a static binary (CGO_ENABLED=0; the nowhatsapp one
// built with -tags nowhatsapp) on distroless static as nonroot, with OCI labels for version
// and revision from build arguments, and the version stamped into the binary.
func CheckDockerfile(stages []Stage) []string {
	var p problems
	byName := map[string]Stage{}
	for _, s := range stages {
		byName[s.Name] = s
	}
	// chain returns the instructions of a stage and of the stages it is based on.
	var chain func(s Stage) []string
	chain = func(s Stage) []string {
		if base, ok := byName[s.From]; ok && s.From != s.Name {
			return append(chain(base), s.Instructions...)
		}
		return s.Instructions
	}
	root := func(s Stage) string {
		for {
			base, ok := byName[s.From]
			if !ok {
				return s.From
			}
			s = base
		}
	}
	if len(stages) == 0 || stages[len(stages)-1].Name != "chatgate" {
		p.addf("the last stage (what a build without --target makes) is not chatgate")
	}
	for _, target := range []string{"chatgate", "chatgate-nowhatsapp"} {
		s, ok := byName[target]
		if !ok {
			p.addf("no target %s", target)
			continue
		}
		if base := root(s); base != "gcr.io/distroless/static:nonroot" {
			p.addf("target %s runs on %s, want gcr.io/distroless/static:nonroot", target, base)
		}
		ins := chain(s)
		if !slices.ContainsFunc(ins, func(i string) bool { return strings.HasPrefix(i, "USER nonroot") }) {
			p.addf("target %s: no USER nonroot", target)
		}
		labels := strings.Join(slices.DeleteFunc(slices.Clone(ins), func(i string) bool { return !strings.HasPrefix(i, "LABEL ") }), " ")
		for _, l := range []string{`org.opencontainers.image.version="${VERSION}"`, `org.opencontainers.image.revision="${REVISION}"`,
			"org.opencontainers.image.title=", "org.opencontainers.image.licenses="} {
			if !strings.Contains(labels, l) {
				p.addf("target %s: no label %s", target, l)
			}
		}
		if target == "chatgate-nowhatsapp" && strings.Contains(labels, "GPL") {
			p.addf("target %s: its licence label names GPL", target)
		}
		if target == "chatgate" && !strings.Contains(labels, "GPL-3.0") {
			p.addf("target %s: its licence label does not name GPL-3.0 (go.mau.fi/libsignal)", target)
		}
		// The binary it copies, and the stage that builds it.
		var build Stage
		for _, i := range ins {
			if f := strings.Fields(i); len(f) >= 4 && f[0] == "COPY" && strings.HasPrefix(f[1], "--from=") && f[len(f)-1] == "/usr/local/bin/chatgate" {
				build = byName[strings.TrimPrefix(f[1], "--from=")]
			}
		}
		if build.Name == "" {
			p.addf("target %s copies no /usr/local/bin/chatgate from a build stage", target)
			continue
		}
		var goBuild string
		for _, i := range chain(build) {
			if strings.HasPrefix(i, "RUN ") && strings.Contains(i, "go build") {
				goBuild = i
			}
		}
		switch {
		case !strings.Contains(goBuild, "CGO_ENABLED=0"):
			p.addf("target %s: its go build is not static (CGO_ENABLED=0): %q", target, goBuild)
		case !strings.Contains(goBuild, "-X main.version=${VERSION}"):
			p.addf("target %s: its go build does not stamp the version: %q", target, goBuild)
		case (target == "chatgate-nowhatsapp") != strings.Contains(goBuild, "-tags nowhatsapp"):
			p.addf("target %s: -tags nowhatsapp wrong in %q", target, goBuild)
		}
	}
	return p
}
