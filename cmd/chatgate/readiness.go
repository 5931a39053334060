package main

import (
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/kafka"
)

// Dependencies /readyz checks.
const (
	depKafka    = "kafka"
	depPostgres = "postgres"
)

// roleNeeds says which dependencies each role cannot work without
// (required), and which only some of its requests need (optional: reported
// by /readyz, never failing it). Ingress publishes every inbound webhook and
// API-channel message to Kafka and needs nothing else for them: bootstrap
// tokens are checked in memory, stored tokens are cached for a while after a
// lookup. Its desk and ops APIs and the first use of a stored token do need
// PostgreSQL and answer 503 while it is down; taking the whole process out
// of service for that would refuse the intake too, which is what must go on.
// The scheduler only sweeps timers in PostgreSQL; the relay publishes them.
var roleNeeds = map[string]struct{ required, optional []string }{
	roleIngress:   {required: []string{depKafka}, optional: []string{depPostgres}},
	roleWorker:    {required: []string{depKafka, depPostgres}},
	roleRelay:     {required: []string{depKafka, depPostgres}},
	roleSender:    {required: []string{depKafka, depPostgres}},
	roleWhatsApp:  {required: []string{depKafka, depPostgres}},
	roleScheduler: {required: []string{depPostgres}},
}

// readiness returns what /readyz checks for a process running roles: the
// union of their needs, a dependency required by one role being required.
func readiness(roles []string) (required, optional []string) {
	for _, r := range roles {
		n := roleNeeds[r]
		for _, d := range n.required {
			if !slices.Contains(required, d) {
				required = append(required, d)
			}
		}
		for _, d := range n.optional {
			if !slices.Contains(optional, d) {
				optional = append(optional, d)
			}
		}
	}
	optional = slices.DeleteFunc(optional, func(d string) bool { return slices.Contains(required, d) })
	slices.Sort(required)
	slices.Sort(optional)
	return required, optional
}

// readyChecks returns the /readyz checks of this process's roles.
func (a *app) readyChecks() (required, optional map[string]func(context.Context) error) {
	all := map[string]func(context.Context) error{
		depPostgres: a.pool.Ping,
		depKafka: func(ctx context.Context) error {
			return kafka.Ping(ctx, a.brokers, a.topics.Name(gateway.TopicInbound))
		},
	}
	pick := func(names []string) map[string]func(context.Context) error {
		m := make(map[string]func(context.Context) error, len(names))
		for _, n := range names {
			m[n] = all[n]
		}
		return m
	}
	req, opt := readiness(a.roles)
	return pick(req), pick(opt)
}

// adminAddr returns where this process serves /healthz, /readyz and
// /metrics besides the public HTTP server, if anywhere: CHATGATE_ADMIN_ADDR
// when set ("off" for nowhere), else ":9090" for a process without the
// ingress role, whose HTTP server already serves them.
func (c config) adminAddr(roles []string) (string, bool) {
	switch {
	case c.AdminAddr == adminOff:
		return "", false
	case c.AdminAddr != "":
		return c.AdminAddr, true
	case slices.Contains(roles, roleIngress):
		return "", false
	}
	return defaultAdminAddr, true
}

// Values of CHATGATE_ADMIN_ADDR.
const (
	defaultAdminAddr = ":9090"
	adminOff         = "off"
)

// buildAdminServer returns the admin server: health, readiness and metrics
// only, for the probes and the scraper.
func (a *app) buildAdminServer(addr string) *httpapi.Server {
	required, optional := a.readyChecks()
	return httpapi.New(httpapi.Config{
		Addr: addr, Logger: a.log, ReadyChecks: required, OptionalChecks: optional, Version: version,
	})
}

// validateAdminAddr checks CHATGATE_ADMIN_ADDR.
func validateAdminAddr(addr string) error {
	if addr == "" || addr == adminOff {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("CHATGATE_ADMIN_ADDR=%q: %w (or \"off\")", addr, err)
	}
	return nil
}
