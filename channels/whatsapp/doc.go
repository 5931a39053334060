// Package whatsapp is chatgate's WhatsApp channel on go.mau.fi/whatsmeow, and
// the only package that imports whatsmeow.
//
// It has five parts, each usable and tested on its own:
//
//   - Conversion (convert.go, address.go): whatsmeow events to gateway
//     records. Pure apart from media, which is downloaded through the small
//     Downloader interface into a BlobStore and referenced by URL.
//   - Intake (intake.go): the event handler registered with
//     AddEventHandlerWithSuccessStatus. With SynchronousAck it returns true
//     only after Kafka acknowledged the record, so WhatsApp redelivers what
//     was not stored.
//   - Provider (provider.go): the sender.Provider that sends outbound records
//     with message ids derived from the request id, rate limited per device
//     and per recipient.
//   - Lease (lease.go): a PostgreSQL session advisory lock per device, so
//     that one process across all replicas holds the device's socket.
//   - Store and Service (store.go, service.go, pair.go): whatsmeow's sqlstore
//     on PostgreSQL, pairing, and the run loop of the whatsapp role with the
//     typed connection states of state.go.
//
// The whatsmeow network client sits behind the Client interface, so
// everything but pairing runs in tests without WhatsApp.
//
// Licence: whatsmeow is MPL-2.0 and its dependency go.mau.fi/libsignal is
// GPL-3.0; both are linked into a binary that includes this package. Build
// with -tags nowhatsapp for a binary without them (see docs/whatsapp.md).
package whatsapp
