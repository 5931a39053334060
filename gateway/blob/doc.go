// Package blob keeps media bytes for chatgate (R39, R40): the
// gateway.BlobStore implementations, the content sniffer and file-name
// sanitiser every Put applies, the signed URLs providers fetch outbound
// media from, and garbage collection.
//
// Blobs are content-addressed: the key is the sha256 of the bytes, so the
// same attachment delivered twice (a redelivered webhook, a forwarded
// photo) is stored once, and a key can name nothing but a blob. A Put
// streams: it never holds the content whole, hashes and sniffs it as it
// passes, stops one byte past its size limit with a
// *gateway.BlobTooLargeError, and leaves nothing behind when it fails.
// What records and events carry is a gateway.BlobRef, never bytes.
//
// Two stores:
//
//   - FileStore, a directory (by default under the data directory):
//     blobs/ab/cd/<sha256>, written to tmp/ first, fsynced, renamed.
//   - S3Store, a bucket of any S3-compatible server, through minio-go.
//     minio-go was chosen over aws-sdk-go-v2 because its Object is already
//     an io.ReadSeeker and io.ReaderAt over ranged GETs (what
//     http.ServeContent needs for range requests), its streaming multipart
//     upload of unknown length holds one part in memory, and it speaks to
//     every S3 implementation, not only AWS's.
//
// The S3 tests run against a real MinIO server. scripts/ensure-minio.sh
// (run by make test) builds it from source with go install, which needs
// only the Go module proxy: MinIO has no tagged Go module versions, so a
// pseudo-version is pinned there; the build takes six to seven minutes on
// two busy cores, once per machine. The tests start it on a free loopback
// port with a temporary directory, and skip loudly (or fail, under CI)
// when the binary is missing. An in-process fake (gofakes3) was the
// fallback, not needed: a real server catches what a fake would not
// (multipart limits, copy semantics, listing). MinIO's server is AGPL-3.0;
// it is only run by the tests, never linked into or shipped with chatgate.
package blob
