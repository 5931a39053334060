// Package stream is the live event stream of browser desks, GET /v1/stream
// (R41, docs/stream.md): server-sent events of the tickets topic, for each
// principal exactly the events it may see, resumable after a disconnect.
//
// A Hub follows every partition of the tickets topic from its end, in every
// process and without a consumer group, so chatgate processes behind a load
// balancer each serve their own clients. It keeps the events of the last
// minutes (bounded in time and bytes) and fans each one out to its clients
// through a bounded queue per client; a client that falls behind is cut off
// with a resync hint, never buffered without bound. An event's id is the
// position on the topic right after it (every partition's next offset),
// which any process can resume from: the Last-Event-ID of a reconnecting
// client resumes without a gap while the history covers it, and otherwise
// the client is told to resync (reload its lists over the desk API).
//
// What a principal sees is decided by a Viewer, the desk API's own rule
// (ticketing.Scope), for the conversation after each change and, when the
// change moved it out of sight, before it: an agent whose queue loses a
// conversation to another agent gets one ticket.removed event. queue.counts
// events derive every client's counts from one query per debounce window
// (CountFunc). The package reads Kafka only through Source and knows
// nothing of the ticketing domain: the wiring injects both.
package stream
