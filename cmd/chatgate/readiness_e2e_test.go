package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

func TestReadinessPerRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		roles              []string
		required, optional []string
	}{
		{[]string{roleIngress}, []string{depKafka}, []string{depPostgres}},
		{[]string{roleWorker}, []string{depKafka, depPostgres}, nil},
		{[]string{roleRelay}, []string{depKafka, depPostgres}, nil},
		{[]string{roleSender}, []string{depKafka, depPostgres}, nil},
		{[]string{roleWhatsApp}, []string{depKafka, depPostgres}, nil},
		{[]string{roleScheduler}, []string{depPostgres}, nil},
		// A role that requires what another only wants makes it required.
		{[]string{roleIngress, roleScheduler}, []string{depKafka, depPostgres}, nil},
		{[]string{roleIngress, roleWorker, roleRelay, roleSender}, []string{depKafka, depPostgres}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.roles, ","), func(t *testing.T) {
			t.Parallel()
			req, opt := readiness(tt.roles)
			if !slices.Equal(req, tt.required) || !slices.Equal(opt, tt.optional) {
				t.Fatalf("readiness(%v) = required %v, optional %v; want %v, %v", tt.roles, req, opt, tt.required, tt.optional)
			}
		})
	}
	for _, r := range availableRoles {
		if _, ok := roleNeeds[r]; !ok {
			t.Errorf("role %s has no entry in roleNeeds: /readyz would check nothing for it", r)
		}
	}
}

func TestAdminAddrPerRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		set    string
		roles  []string
		want   string
		wantOK bool
	}{
		{"worker, default", "", []string{roleWorker}, ":9090", true},
		{"scheduler, default", "", []string{roleScheduler}, ":9090", true},
		{"ingress serves its probes on the HTTP port", "", []string{roleIngress, roleWorker}, "", false},
		{"set explicitly, also next to ingress", "127.0.0.1:9999", []string{roleIngress}, "127.0.0.1:9999", true},
		{"off", "off", []string{roleWorker}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(func(k string) (string, bool) {
				if k == "CHATGATE_ADMIN_ADDR" && tt.set != "" {
					return tt.set, true
				}
				return "", false
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := cfg.adminAddr(tt.roles); got != tt.want || ok != tt.wantOK {
				t.Fatalf("adminAddr(%v) = %q, %v; want %q, %v", tt.roles, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if _, err := loadConfig(func(k string) (string, bool) { return "nonsense", k == "CHATGATE_ADMIN_ADDR" }); err == nil ||
		!strings.Contains(err.Error(), "CHATGATE_ADMIN_ADDR") {
		t.Fatalf("CHATGATE_ADMIN_ADDR=nonsense: err = %v, want one naming the variable", err)
	}
}

// cuttableProxy forwards TCP connections to a target until cut, then
// refuses them (and drops those open) until restored: PostgreSQL going away
// and coming back, under processes that keep running.
type cuttableProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cuttableProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

func (p *cuttableProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
	}
}

// viaProxy returns dbURL with its host replaced by the proxy's.
func (p *cuttableProxy) viaProxy(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// probeServer returns the base URL where s serves its probes: the admin
// server when it runs one, else its HTTP server.
func probeServer(t *testing.T, s *stack) string {
	t.Helper()
	srv := s.app.admin
	if srv == nil {
		srv = s.app.server
	}
	if srv == nil {
		t.Fatalf("roles %v serve no probes", s.app.roles)
	}
	select {
	case <-srv.Listening():
	case <-time.After(30 * time.Second):
		t.Fatal("probe server not listening after 30 s")
	}
	return "http://" + srv.Addr()
}

// readyAnswer is GET /readyz's body.
type readyAnswer struct {
	Status   string            `json:"status"`
	Checks   map[string]string `json:"checks"`
	Degraded []string          `json:"degraded"`
}

func getReady(t *testing.T, base string) (int, readyAnswer) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a readyAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("decode /readyz: %v", err)
	}
	return resp.StatusCode, a
}

// Defects: worker (and every non-ingress) pods served no /healthz, /readyz
// or /metrics, and /readyz of an ingress-only process failed while
// PostgreSQL was down although ingress needs only Kafka.
func TestReadyzChecksOnlyWhatTheRolesNeed(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	dbURL := pgtest.URL(t)
	proxy := startProxy(t, mustHost(t, dbURL))
	viaProxy := proxy.viaProxy(t, dbURL)

	type process struct {
		roles      []string
		readyNoDB  bool // /readyz stays 200 while PostgreSQL is down
		wantChecks []string
		direct     bool // not behind the proxy: only its probes are checked
	}
	processes := []process{
		{[]string{roleIngress}, true, []string{depKafka, depPostgres}, false},
		{[]string{roleWorker}, false, []string{depKafka, depPostgres}, false},
		{[]string{roleRelay}, false, []string{depKafka, depPostgres}, false},
		{[]string{roleSender}, false, []string{depKafka, depPostgres}, false},
		{[]string{roleScheduler}, false, []string{depPostgres}, false},
	}
	if whatsAppBuilt {
		// The role exits when it cannot open its device store at its
		// start (the process then restarts), so it gets the database
		// directly; its needs are those of the worker (TestReadinessPerRole).
		processes = append(processes, process{[]string{roleWhatsApp}, false, []string{depKafka, depPostgres}, true})
	}
	bases := make([]string, len(processes))
	for i, p := range processes {
		db := viaProxy
		if p.direct {
			db = dbURL
		}
		s := startStack(t, brokers, db, p.roles...)
		bases[i] = probeServer(t, s)
		for _, path := range []string{"/healthz", "/metrics"} {
			resp, err := http.Get(bases[i] + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%v %s: %d %s", p.roles, path, resp.StatusCode, body)
			}
			if path == "/metrics" && !bytes.Contains(body, []byte("chatgate_")) {
				t.Fatalf("%v /metrics lacks chatgate metrics", p.roles)
			}
		}
		code, a := getReady(t, bases[i])
		if code != http.StatusOK || !slices.Equal(slices.Sorted(maps.Keys(a.Checks)), p.wantChecks) {
			t.Fatalf("%v /readyz with everything up = %d %+v; want 200 checking %v", p.roles, code, a, p.wantChecks)
		}
	}

	proxy.setCut(true)
	for i, p := range processes {
		if p.direct {
			continue
		}
		code, a := getReady(t, bases[i])
		switch {
		case p.readyNoDB && (code != http.StatusOK || !slices.Equal(a.Degraded, []string{depPostgres}) || a.Checks[depKafka] != "ok"):
			t.Errorf("%v /readyz with PostgreSQL down = %d %+v; want 200, kafka ok, postgres degraded", p.roles, code, a)
		case !p.readyNoDB && (code != http.StatusServiceUnavailable || a.Checks[depPostgres] == "ok"):
			t.Errorf("%v /readyz with PostgreSQL down = %d %+v; want 503 naming postgres", p.roles, code, a)
		}
	}

	proxy.setCut(false)
	for i, p := range processes {
		if p.direct {
			continue
		}
		testkit.WaitFor(t, 30*time.Second, strings.Join(p.roles, ",")+" ready again", func() bool {
			code, a := getReady(t, bases[i])
			return code == http.StatusOK && len(a.Degraded) == 0
		})
	}
}
