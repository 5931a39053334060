//go:build unix

package stream

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/ticketing"
)

// The stream's benchmarks (docs/performance.md, "Live stream"): 1,000
// clients of one process over loopback TCP. The clients run in a child
// process (this test binary again, as TestStreamBenchSwarm), so that the
// memory and CPU measured are the server's alone. Run them alone:
//
//	go test -run='^$' -bench=Stream -benchtime=5000x ./gateway/stream/

const benchClients = 1000

// Environment of the swarm process.
const (
	envSwarmAddr   = "CHATGATE_STREAM_SWARM_ADDR"
	envSwarmSupers = "CHATGATE_STREAM_SWARM_SUPERVISORS"
	envSwarmExpect = "CHATGATE_STREAM_SWARM_EXPECT"
)

// swarmReport is what the swarm process prints when it is done.
type swarmReport struct {
	Deliveries int             `json:"deliveries"`
	Latencies  []time.Duration `json:"latencies"` // p50, p99, max
}

// BenchmarkStream holds 1,000 streams on one process and publishes
// events at 500/s (and 100/s); it reports the server's memory per client, its CPU per
// delivered event, and the latency from an event's arrival at the hub to
// its read by a client (p50, p99, worst). "agents": 900 agents in ten
// departments (each event is one department's: its 90 agents get it) and
// 100 supervisors (all of it), 190 deliveries per event; "supervisors":
// 1,000 supervisors, 1,000 deliveries per event.
func BenchmarkStream(b *testing.B) {
	for _, mix := range []struct {
		name        string
		supervisors int
		rate        int // events a second
	}{{"agents", 100, 500}, {"supervisors", benchClients, 500}, {"agents-100/s", 100, 100}} {
		b.Run(mix.name, func(b *testing.B) { benchStream(b, mix.supervisors, mix.rate) })
	}
}

func benchStream(b *testing.B, supervisors, eventsPerSecond int) {
	dir := benchDirectory(b)
	log := newTopicLog(8)
	hub, err := NewHub(Config{Source: log})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(ctx) }()
	defer func() { cancel(); <-hubDone }()
	<-hub.Ready()
	srv := benchServer(b, &Handler{Hub: hub, Recheck: time.Hour, Rescope: time.Hour,
		Resolve: func(_ context.Context, role httpapi.Role, agent string) (Viewer, error) {
			return ticketing.ScopeOf(ticketing.ActorRole(role), agent, dir), nil
		}})

	perEvent := supervisors + (benchClients-supervisors)/10
	before := heapAndStacks()
	swarm := exec.Command(os.Args[0], "-test.run=^TestStreamBenchSwarm$", "-test.count=1")
	swarm.Env = append(os.Environ(), envSwarmAddr+"="+srv.Listener.Addr().String(),
		envSwarmSupers+"="+strconv.Itoa(supervisors), envSwarmExpect+"="+strconv.Itoa(b.N*perEvent))
	swarm.Stderr = os.Stderr
	stdin, err := swarm.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := swarm.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := swarm.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = swarm.Wait() }()
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "connected\n" {
		b.Fatalf("swarm: %q %v", line, err)
	}
	perClient := float64(heapAndStacks()-before) / benchClients

	tick := time.NewTicker(time.Second / time.Duration(eventsPerSecond))
	defer tick.Stop()
	b.ResetTimer()
	cpu := cpuTime(b)
	start := time.Now()
	for i := range b.N {
		<-tick.C
		log.append(benchRecord(b, i, time.Now()))
	}
	rate := float64(b.N) / time.Since(start).Seconds() // below the target when the machine could not keep up
	stdin.Close()                                      // all published: the swarm reports once it has read them
	raw, err := io.ReadAll(out)
	cpu = cpuTime(b) - cpu
	b.StopTimer()
	var rep swarmReport
	if err != nil || json.Unmarshal(raw, &rep) != nil || len(rep.Latencies) != 3 {
		b.Fatalf("swarm report %q: %v", raw, err)
	}
	if rep.Deliveries < b.N*perEvent {
		b.Fatalf("%d of %d deliveries arrived", rep.Deliveries, b.N*perEvent)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(perClient, "server-bytes/client")
	b.ReportMetric(float64(cpu.Microseconds())/float64(rep.Deliveries), "server-cpu-µs/delivery")
	b.ReportMetric(float64(perEvent), "deliveries/event")
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(ms(rep.Latencies[0]), "p50-ms")
	b.ReportMetric(ms(rep.Latencies[1]), "p99-ms")
	b.ReportMetric(ms(rep.Latencies[2]), "max-ms")
}

// TestStreamBenchSwarm is BenchmarkStream's client process, and skips
// otherwise: 1,000 streams that time each event from the arrival time it
// carries to its read.
func TestStreamBenchSwarm(t *testing.T) {
	addr := os.Getenv(envSwarmAddr)
	if addr == "" {
		t.Skip("the client process of BenchmarkStream")
	}
	supervisors, _ := strconv.Atoi(os.Getenv(envSwarmSupers))
	expect, _ := strconv.Atoi(os.Getenv(envSwarmExpect))
	var delivered atomic.Int64
	all := make(chan struct{})
	samples := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	for i := range benchClients {
		agent := fmt.Sprintf("a%d", i)
		if i >= benchClients-supervisors {
			agent = fmt.Sprintf("s%d", i)
		}
		conn, br := benchConn(t, addr, agent)
		defer conn.Close()
		wg.Go(func() {
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				// data: {"specversion":"1.0","id":"bench-<n>-<unix ns>",…
				at := strings.Index(line, `"id":"bench-`)
				if !strings.HasPrefix(line, "data: ") || at < 0 {
					continue
				}
				id := line[at+len(`"id":"bench-`):]
				id = id[:strings.IndexByte(id, '"')]
				sent, err := strconv.ParseInt(id[strings.IndexByte(id, '-')+1:], 10, 64)
				if err != nil {
					continue
				}
				samples[i] = append(samples[i], time.Duration(time.Now().UnixNano()-sent))
				if delivered.Add(1) == int64(expect) {
					close(all)
				}
			}
		})
	}
	fmt.Println("connected")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark has published everything
	select {
	case <-all:
	case <-time.After(time.Minute):
	}
	var lat []time.Duration
	for _, s := range samples {
		lat = append(lat, s...)
	}
	slices.Sort(lat)
	rep := swarmReport{Deliveries: len(lat), Latencies: []time.Duration{0, 0, 0}}
	if len(lat) > 0 {
		rep.Latencies = []time.Duration{lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]}
	}
	raw, _ := json.Marshal(rep)
	fmt.Println(string(raw))
	os.Stdout.Sync()
	os.Exit(0) // the connections are the benchmark's to close
}

// benchDirectory has ten departments of 90 agents each (a0…a899).
func benchDirectory(b testing.TB) *ticketing.Directory {
	b.Helper()
	var deps []ticketing.Department
	for d := range 10 {
		dep := ticketing.Department{ID: fmt.Sprintf("d%d", d), TimeZone: "UTC"}
		for a := range 90 {
			dep.Agents = append(dep.Agents, fmt.Sprintf("a%d", d*90+a))
		}
		deps = append(deps, dep)
	}
	deps[0].Routing.Default = true
	dir, err := ticketing.NewDirectory(deps, nil)
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

// benchServer serves h with the principal of the request's X-Agent header
// (an agent, or a supervisor when it starts with "s"), standing in for
// the bearer token so the numbers are the stream's.
func benchServer(b testing.TB, h http.Handler) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent := r.Header.Get("X-Agent")
		p := httpapi.Principal{Role: httpapi.RoleAgent, Agent: agent}
		if strings.HasPrefix(agent, "s") {
			p.Role = httpapi.RoleSupervisor
		}
		h.ServeHTTP(w, r.WithContext(httpapi.WithPrincipal(r.Context(), p)))
	}))
	b.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// benchConn is one client: a raw TCP connection that has read the
// response head and the stream's first event.
func benchConn(t testing.TB, addr, agent string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// HTTP/1.0: the body comes unchunked, so lines can be read as they are.
	fmt.Fprintf(conn, "GET /v1/stream HTTP/1.0\r\nHost: bench\r\nX-Agent: %s\r\nAccept: text/event-stream\r\n\r\n", agent)
	br := bufio.NewReaderSize(conn, 4096)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("client %s: %v", agent, err)
		}
		if strings.HasPrefix(line, `data: {"resumed"`) {
			return conn, br
		}
	}
}

// benchRecord is event i, arrived at: a message in department i%10's
// queue, with a typical message_added's size; its id carries the arrival
// time.
func benchRecord(b *testing.B, i int, at time.Time) gateway.Message {
	b.Helper()
	v := view(int64(i+1), "unassigned", fmt.Sprintf("d%d", i%10), "")
	key := strconv.Itoa(i + 1)
	m, err := gateway.EncodeRecord("chatgate.tickets", key, fmt.Sprintf("bench-%d-%d", i, at.UnixNano()), "chatgate/ticketing",
		gateway.TypeTicketMessageAdded, key, testT0, map[string]any{"conversation": v, "message": gateway.MessageView{
			ID: int64(i + 1), Direction: "inbound", Text: "Hello, my order 12345 has not arrived yet, can you help?", Seq: 1}})
	if err != nil {
		b.Fatal(err)
	}
	m.Partition = i % 8
	return m
}

// cpuTime is the CPU time the process used so far, user and system: on
// a machine shared with other work, the cost per event it measures holds
// where wall-clock rates do not.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAndStacks is the memory the process holds, after a GC.
func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
