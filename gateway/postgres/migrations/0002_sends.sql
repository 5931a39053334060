-- 0002: the send log.
-- Why: R32 says an outbound message is sent at most once per request id,
-- whatever the redeliveries of its outbound record. Senders claim the request
-- id here before calling the provider and record the provider's id after.
CREATE TABLE sends (
    request_id    text        PRIMARY KEY,
    channel       text        NOT NULL,
    provider_id   text,
    status        text        NOT NULL,
    error_code    text        NOT NULL DEFAULT '',
    error_message text        NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE INDEX sends_provider ON sends (channel, provider_id) WHERE provider_id IS NOT NULL;
