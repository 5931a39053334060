// Package twilio is chatgate's Twilio channel: SMS and WhatsApp through
// Twilio's Programmable Messaging API. It is the only package that imports
// github.com/twilio/twilio-go.
//
// It has three parts, each usable alone:
//
//   - Config, a typed config that cmd/chatgate fills from the environment
//     (only it reads the environment): credentials, the public URL Twilio
//     calls, and the numbers and messaging services chatgate sends from,
//     with their department and rate (docs/twilio.md); ParseOrigins reads
//     the list format of the numbers.
//   - Webhooks, the inbound side (role ingress): MessagesHandler serves
//     POST /webhooks/twilio/messages and StatusHandler serves
//     POST /webhooks/twilio/status. Both check X-Twilio-Signature first, turn
//     the form into a gateway.Inbound or gateway.Status record, and answer
//     Twilio only after gateway.Publisher.Publish returned nil, that is after
//     Kafka acknowledged the record. A failed publish is a 503, never a 200.
//   - Provider, the outbound side (role sender): a sender.Provider that sends
//     one gateway.Outbound with twilio-go's CreateMessage, waits for its
//     sender's rate limit first, and classifies Twilio's errors as temporary
//     or permanent for the shared sender.Runner, which does the claiming,
//     retrying and status publishing.
//
// # Idempotency
//
// Twilio retries a webhook it got no 2xx for, and may deliver the same one
// twice at once. Every inbound record's CloudEvents id is derived from the
// MessageSid (gateway.Inbound.EventID), so duplicates carry one id and the
// ticketing worker, which stores messages unique on (channel, provider id),
// keeps one (R1). The handlers keep no state and do not dedupe themselves.
//
// Twilio's Messages API has no idempotency key. A send that may have reached
// Twilio without an answer (a timeout after the request was written) is
// therefore not retried: it fails with sender.CodeOutcomeUnknown, as the
// runner does for a sender that died mid-send (R32). Sends that certainly did
// not reach Twilio (connection refused, DNS) and Twilio's 429 and 5xx answers
// are retried.
package twilio
