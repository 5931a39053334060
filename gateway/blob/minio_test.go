package blob_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/blob"
)

// The MinIO server the S3 tests share: started at the first test that
// needs it, on a free loopback port with a temporary directory, and
// stopped by TestMain. Each test gets a bucket of its own.
var minioServer struct {
	once     sync.Once
	endpoint string
	dir      string
	cmd      *exec.Cmd
	exited   chan error // receives cmd.Wait's result
	err      error
	missing  bool
}

const (
	minioUser   = "chatgate-test"
	minioSecret = "chatgate-test-secret"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if minioServer.cmd != nil {
		_ = minioServer.cmd.Process.Kill()
		<-minioServer.exited
	}
	if minioServer.dir != "" {
		_ = os.RemoveAll(minioServer.dir)
	}
	os.Exit(code)
}

// minioBinary finds the server: CHATGATE_TEST_MINIO, then where
// scripts/ensure-minio.sh installs it (go install's directory), then PATH.
func minioBinary() (string, bool) {
	if p := os.Getenv("CHATGATE_TEST_MINIO"); p != "" {
		return p, true
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) >= 1 && strings.TrimSpace(lines[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(lines[0]))
		}
		if len(lines) >= 2 {
			gopath := strings.TrimSpace(lines[1])
			if i := strings.IndexByte(gopath, os.PathListSeparator); i >= 0 {
				gopath = gopath[:i]
			}
			dirs = append(dirs, filepath.Join(gopath, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "minio")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, true
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, true
	}
	return "", false
}

// minioEndpoint returns the shared server's URL, starting it if needed. A
// missing binary skips the test loudly, or fails it under CI, where the
// scripts must have installed it.
func minioEndpoint(t *testing.T) string {
	t.Helper()
	minioServer.once.Do(startMinIO)
	if minioServer.missing {
		msg := "S3 BLOB STORE TESTS NOT RUN: no MinIO server binary. Run scripts/ensure-minio.sh " +
			"(make test does), or set CHATGATE_TEST_MINIO=/path/to/minio."
		if os.Getenv("CI") == "true" || os.Getenv("CHATGATE_TEST_REQUIRE_S3") == "1" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "\n*** "+msg+" ***")
		t.Skip(msg)
	}
	if minioServer.err != nil {
		t.Fatalf("start MinIO: %v", minioServer.err)
	}
	return minioServer.endpoint
}

func startMinIO() {
	bin, ok := minioBinary()
	if !ok {
		minioServer.missing = true
		return
	}
	dir, err := os.MkdirTemp("", "chatgate-minio-")
	if err != nil {
		minioServer.err = err
		return
	}
	minioServer.dir = dir
	// A free port can be taken between our probe and MinIO's listen; try a
	// few.
	for attempt := 0; attempt < 3; attempt++ {
		var addr string
		addr, err = freeLoopbackAddr()
		if err != nil {
			break
		}
		err = runMinIO(bin, filepath.Join(dir, fmt.Sprint(attempt)), addr)
		if err == nil {
			minioServer.endpoint = "http://" + addr
			return
		}
	}
	minioServer.err = err
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

func runMinIO(bin, data, addr string) error {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, data)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioSecret,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, killed with the test binary if that dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("minio exited: %v: %s", err, out.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/minio/health/live")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				minioServer.cmd, minioServer.exited = cmd, exited
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("minio exited: %v: %s", err, out.String())
		case <-time.After(50 * time.Millisecond): // poll interval, not a wait for an outcome
		}
	}
	_ = cmd.Process.Kill()
	<-exited
	return errors.New("minio did not become ready within 60s: " + out.String())
}

// newS3Store returns a store on a fresh bucket of the shared server.
func newS3Store(t *testing.T, mutate ...func(*blob.S3Options)) *blob.S3Store {
	t.Helper()
	o := s3Options(t)
	for _, m := range mutate {
		m(&o)
	}
	s, err := blob.NewS3Store(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func s3Options(t *testing.T) blob.S3Options {
	t.Helper()
	return blob.S3Options{
		Endpoint: minioEndpoint(t), Bucket: "t-" + randomHex(t, 8), Region: "us-east-1",
		AccessKeyID: minioUser, SecretAccessKey: minioSecret, PathStyle: true,
		Prefix: "media", CreateBucket: true,
	}
}
