// Package cloudapi is chatgate's WhatsApp Cloud API channel: Meta's
// official WhatsApp Business Platform, through webhooks and the Graph API
// (rule R50). It needs no SDK: the Graph API is plain HTTPS and JSON.
//
// It has two parts so far (the sender and template sync follow);
// docs/cloudapi.md describes them for operators:
//
//   - Config: the app secret, verify token and access token, the Graph API's
//     base URL and version, and the business numbers (phone_number_id,
//     E.164 address, WABA, department, throughput). The wiring fills it;
//     this package reads no environment.
//   - Webhooks, the inbound side (role ingress): the GET verification
//     handshake and the POSTed events, checked with X-Hub-Signature-256
//     before anything else and turned into gateway.Inbound and
//     gateway.Status records (ParseWebhook), answered 200 only after
//     gateway.Publisher.Publish returned nil, that is after Kafka
//     acknowledged every record; 503 otherwise, so Meta sends it again.
//     Template status updates go to a TemplateStatusFunc.
//
// # Idempotency
//
// Meta retries a webhook it got no 200 for, for up to seven days, and may
// deliver one twice. Every record's CloudEvents id comes from the message's
// wamid (gateway.Inbound.EventID) or the status's wamid and state, so a
// redelivered or replayed webhook carries the same ids and the worker,
// which stores messages unique on (channel, provider id), keeps one (R1).
// The signature has no timestamp, so a replay is indistinguishable from a
// redelivery; that is why dedupe, not freshness, makes it harmless.
package cloudapi
