// Package cloudapi is chatgate's WhatsApp Cloud API channel: Meta's
// official WhatsApp Business Platform, through webhooks and the Graph API
// (rule R50). It needs no SDK: the Graph API is plain HTTPS and JSON.
//
// It has five parts, each usable alone; docs/cloudapi.md describes them
// for operators:
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
//   - Provider, the outbound side (role sender): a sender.Provider that
//     sends text, media (by link or media id), templates with components
//     and interactive buttons and lists, keeps to each number's throughput
//     and Meta's pair rate limit, classifies Meta's error codes for the
//     shared sender.Runner, and reports a number's State (token, permission,
//     account problems) for operators.
//   - Client: the Graph API calls, including media download (media id →
//     URL → bytes, streamed, for the media step that stores them) and
//     upload.
//   - Templates: ListTemplates, the pure ConvertTemplate to chatgate's
//     template model, Sync against a TemplateStore (with a dry run), and
//     ApplyTemplateStatus for message_template_status_update webhooks.
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
//
// The Cloud API's messages endpoint has no idempotency key. A send that may
// have reached Meta without an answer is not retried: it fails with
// sender.CodeOutcomeUnknown (R32). Sends that certainly did not leave, and
// Meta's rate-limit, 429 and 5xx answers, are retried.
package cloudapi
