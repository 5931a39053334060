// Package blob keeps media bytes for chatgate (R39, R40): the
// gateway.BlobStore implementations and the content sniffer and file-name
// sanitiser every Put applies.
//
// Blobs are content-addressed: the key is the sha256 of the bytes, so the
// same attachment delivered twice (a redelivered webhook, a forwarded
// photo) is stored once, and a key can name nothing but a blob. A Put
// streams: it never holds the content whole, hashes and sniffs it as it
// passes, stops one byte past its size limit with a
// *gateway.BlobTooLargeError, and leaves nothing behind when it fails.
// What records and events carry is a gateway.BlobRef, never bytes.
//
// FileStore keeps blobs in a directory (by default under the data
// directory): blobs/ab/cd/<sha256>, written to tmp/ first, fsynced,
// renamed.
package blob
