package check

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadCompose loads a compose file as `docker compose` does, with the compose-spec loader:
// interpolated from envFile, validated against the compose schema, with every profile
// (so the services behind one are checked too).
func LoadCompose(ctx context.Context, composeFile, envFile string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory(filepath.Dir(composeFile)),
		cli.WithEnvFiles(envFile),
		cli.WithDotEnv,
		cli.WithProfiles([]string{"*"}),
	)
	if err != nil {
		return nil, fmt.Errorf("compose options: %w", err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", composeFile, err)
	}
	return p, nil
}

// CheckCompose applies the compose rules: Kafka in KRaft mode and PostgreSQL, both with
// health checks and volumes; a migrate service that waits for PostgreSQL; one service per
// role, each started only after PostgreSQL and Kafka are healthy and migrate succeeded,
// restarted when it stops, hardened like the chart's pods.
func CheckCompose(p *types.Project) []string {
	var pr problems
	svc := func(name string) (types.ServiceConfig, bool) {
		s, ok := p.Services[name]
		if !ok {
			pr.addf("no service %s", name)
		}
		return s, ok
	}
	for _, name := range []string{"postgres", "kafka"} {
		s, ok := svc(name)
		if !ok {
			continue
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			pr.addf("service %s: no healthcheck (the others wait for it to be healthy)", name)
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Type == types.VolumeTypeVolume }) {
			pr.addf("service %s: keeps its data on no named volume", name)
		}
		if s.Restart == "" || s.Restart == types.RestartPolicyNo {
			pr.addf("service %s: no restart policy", name)
		}
	}
	if s, ok := svc("kafka"); ok {
		if !strings.HasPrefix(s.Image, "apache/kafka:") {
			pr.addf("service kafka: image %q, want the official apache/kafka", s.Image)
		}
		if roles := value(s.Environment, "KAFKA_PROCESS_ROLES"); roles != "broker,controller" {
			pr.addf("service kafka: KAFKA_PROCESS_ROLES %q, want broker,controller (KRaft, one node)", roles)
		}
	}
	if s, ok := svc("postgres"); ok && !strings.HasPrefix(s.Image, "postgres:") {
		pr.addf("service postgres: image %q", s.Image)
	}
	if s, ok := svc("migrate"); ok {
		if !slices.Equal([]string(s.Command), []string{"migrate"}) {
			pr.addf("service migrate: command %q, want [migrate]", s.Command)
		}
		if s.DependsOn["postgres"].Condition != types.ServiceConditionHealthy {
			pr.addf("service migrate: does not wait for postgres to be healthy")
		}
		if s.Restart != "" && s.Restart != types.RestartPolicyNo && !strings.HasPrefix(s.Restart, types.RestartPolicyOnFailure) {
			pr.addf("service migrate: restart %q would run it for ever", s.Restart)
		}
	}
	covered := map[string]string{}
	for name, s := range p.Services {
		roles := RolesOf(s.Command)
		if len(roles) == 0 {
			continue
		}
		for _, r := range roles {
			if prev := covered[r]; prev != "" {
				pr.addf("role %s runs in services %s and %s", r, prev, name)
			}
			covered[r] = name
		}
		if len(roles) != 1 {
			pr.addf("service %s: runs roles %v, want one role per service", name, roles)
		}
		want := map[string]string{
			"postgres": types.ServiceConditionHealthy,
			"kafka":    types.ServiceConditionHealthy,
			"migrate":  types.ServiceConditionCompletedSuccessfully,
		}
		for dep, cond := range want {
			if got := s.DependsOn[dep].Condition; got != cond {
				pr.addf("service %s: depends on %s with %q, want %s", name, dep, got, cond)
			}
		}
		if s.Restart == "" || s.Restart == types.RestartPolicyNo {
			pr.addf("service %s: no restart policy", name)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			pr.addf("service %s: want read_only, cap_drop ALL and no-new-privileges (read_only %v, cap_drop %v, security_opt %v)",
				name, s.ReadOnly, s.CapDrop, s.SecurityOpt)
		}
		if !slices.ContainsFunc(s.EnvFiles, func(f types.EnvFile) bool { return filepath.Base(f.Path) == ".env" }) {
			pr.addf("service %s: reads its tokens from no .env file", name)
		}
		for _, k := range []string{"CHATGATE_DATABASE_URL", "CHATGATE_KAFKA_BROKERS", "CHATGATE_API_TOKEN"} {
			if value(s.Environment, k) == "" {
				pr.addf("service %s: %s is empty", name, k)
			}
		}
		for _, port := range s.Ports {
			if port.Target != 8080 && port.HostIP != "127.0.0.1" {
				pr.addf("service %s: admin port %d published on %q, want 127.0.0.1 only", name, port.Target, port.HostIP)
			}
		}
		if slices.Contains(roles, "whatsapp") {
			dir := value(s.Environment, "CHATGATE_WHATSAPP_MEDIA_DIR")
			if dir == "" || !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == dir && v.Type == types.VolumeTypeVolume }) {
				pr.addf("service %s: CHATGATE_WHATSAPP_MEDIA_DIR %q is on no named volume", name, dir)
			}
			if s.Scale != nil && *s.Scale != 1 {
				pr.addf("service %s: scale %d, want 1 (one socket per device)", name, *s.Scale)
			}
		}
	}
	for _, r := range AllRoles {
		if covered[r] == "" {
			pr.addf("no compose service runs role %s", r)
		}
	}
	return pr
}

// value returns an environment entry's value, "" when it is unset.
func value(env types.MappingWithEquals, key string) string {
	if v := env[key]; v != nil {
		return *v
	}
	return ""
}
