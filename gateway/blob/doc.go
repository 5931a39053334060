// Package blob keeps media bytes for chatgate (R39, R40). So far it holds
// what every store's Put applies to the content it keeps: the content
// sniffer, which trusts the bytes rather than the sender's declared type,
// and the file-name sanitiser.
package blob
