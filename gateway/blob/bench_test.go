package blob_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/blob"
)

// The memory benchmarks of the media issue: a 100 MB object through Put
// and through a full read must not grow the process by more than 32 MB.
// Run (numbers in docs/media.md, "Storage"):
//
//	go test -run '^$' -bench 'Blob100MB' -benchtime 3x ./gateway/blob/
const (
	benchSize      = 100 << 20
	benchMaxGrowth = 32 << 20
)

func BenchmarkBlob100MBPut(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			b.SetBytes(benchSize)
			var peak memPeak
			for b.Loop() {
				m := startMemMeter()
				ref, err := s.Put(b.Context(), newPatternReader(benchSize), gateway.BlobPut{MaxBytes: benchSize})
				peak.add(m.stop())
				if err != nil {
					b.Fatal(err)
				}
				if ref.Size != benchSize {
					b.Fatalf("size %d", ref.Size)
				}
			}
			peak.report(b)
		})
	}
}

func BenchmarkBlob100MBRead(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			ref, err := s.Put(b.Context(), newPatternReader(benchSize), gateway.BlobPut{MaxBytes: benchSize})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(benchSize)
			var peak memPeak
			for b.Loop() {
				m := startMemMeter()
				r, err := s.Open(b.Context(), ref.SHA256)
				if err != nil {
					b.Fatal(err)
				}
				h := sha256.New()
				n, err := io.Copy(h, r)
				_ = r.Close()
				peak.add(m.stop())
				if err != nil || n != benchSize || hex.EncodeToString(h.Sum(nil)) != ref.SHA256 {
					b.Fatalf("read %d bytes, %v", n, err)
				}
			}
			peak.report(b)
		})
	}
}

type benchStore struct {
	name string
	open func(b *testing.B) gateway.BlobStore
}

func benchStores(b *testing.B) []benchStore {
	stores := []benchStore{{"file", func(b *testing.B) gateway.BlobStore {
		s, err := blob.NewFileStore(filepath.Join(b.TempDir(), "media"), blob.FileOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}}}
	if _, ok := minioBinary(); ok {
		stores = append(stores, benchStore{"s3", func(b *testing.B) gateway.BlobStore {
			minioServer.once.Do(startMinIO)
			if minioServer.err != nil {
				b.Fatal(minioServer.err)
			}
			s, err := blob.NewS3Store(b.Context(), blob.S3Options{
				Endpoint: minioServer.endpoint, Bucket: "bench-" + randomHex(b, 6), Region: "us-east-1",
				AccessKeyID: minioUser, SecretAccessKey: minioSecret, PathStyle: true, CreateBucket: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}})
	} else {
		b.Log("no MinIO server binary: benchmarking the file store only (scripts/ensure-minio.sh)")
	}
	return stores
}

// memMeter samples the heap and the resident set while an operation
// runs, and reports how far each rose above where it started.
type memMeter struct {
	baseHeap, baseRSS uint64
	hwmReset          bool
	done              chan struct{}
	result            chan memPeak
}

type memPeak struct{ heap, rss uint64 }

func (p *memPeak) add(q memPeak) {
	p.heap, p.rss = max(p.heap, q.heap), max(p.rss, q.rss)
}

func (p memPeak) report(b *testing.B) {
	b.ReportMetric(float64(p.heap)/(1<<20), "peak-heap-growth-MB")
	b.ReportMetric(float64(p.rss)/(1<<20), "peak-rss-growth-MB")
	if p.heap > benchMaxGrowth || p.rss > benchMaxGrowth {
		b.Errorf("memory grew past %d MB: heap %.1f MB, RSS %.1f MB", benchMaxGrowth>>20, float64(p.heap)/(1<<20), float64(p.rss)/(1<<20))
	}
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func heapBytes() uint64 {
	metrics.Read(heapSample)
	return heapSample[0].Value.Uint64()
}

func startMemMeter() *memMeter {
	runtime.GC()
	m := &memMeter{baseHeap: heapBytes(), done: make(chan struct{}), result: make(chan memPeak, 1)}
	// Writing 5 to clear_refs resets the kernel's high-water mark of the
	// resident set (VmHWM) to the current size, so VmHWM afterwards is the
	// true peak, spikes between samples included.
	m.hwmReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	m.baseRSS = procStatus("VmRSS")
	go func() {
		var peak memPeak
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapBytes(); h > m.baseHeap {
				peak.heap = max(peak.heap, h-m.baseHeap)
			}
			if r := procStatus("VmRSS"); r > m.baseRSS {
				peak.rss = max(peak.rss, r-m.baseRSS)
			}
			select {
			case <-m.done:
				m.result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *memMeter) stop() memPeak {
	close(m.done)
	peak := <-m.result
	if m.hwmReset {
		if hwm := procStatus("VmHWM"); hwm > m.baseRSS {
			peak.rss = max(peak.rss, hwm-m.baseRSS)
		}
	}
	return peak
}

// procStatus reads one "kB" field of /proc/self/status, in bytes; 0 where
// there is no /proc.
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		name, rest, ok := strings.Cut(string(line), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
