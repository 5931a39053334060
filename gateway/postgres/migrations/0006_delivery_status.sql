-- 0006: outbound messages, delivery statuses and SMS opt-out (R32, R33).
-- Why: delivery receipts (sent, delivered, read, failed) must update the
-- message they are about and be published (R32), so outbound messages are
-- stored like inbound ones, keyed by their request id; a receipt that arrives
-- before its message is known is kept, never dropped; and a contact who sent
-- STOP must never be sent anything until it opts back in (R33).

ALTER TABLE messages
    -- R32: the outbound request, one stored message per request; NULL for
    -- inbound messages.
    ADD COLUMN request_id    text        UNIQUE,
    -- Who wrote an outbound message: 'auto' (auto-responder), 'phone' (the
    -- business's own WhatsApp phone), or the desk's author; '' inbound.
    ADD COLUMN sent_by       text        NOT NULL DEFAULT '',
    -- Delivery state of an outbound message; '' for inbound messages.
    -- status_rank is gateway.DeliveryStatus.Rank(): a status is applied only
    -- if it ranks higher, so late, repeated or reordered receipts never move
    -- a message backwards.
    ADD COLUMN status        text        NOT NULL DEFAULT ''
        CHECK (status IN ('', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed')),
    ADD COLUMN status_rank   smallint    NOT NULL DEFAULT 0,
    -- The provider's reason of a failed message (Twilio's code, 'opted_out', …).
    ADD COLUMN error_code    text        NOT NULL DEFAULT '',
    ADD COLUMN error_message text        NOT NULL DEFAULT '',
    ADD COLUMN status_at     timestamptz;

-- An outbound message has no provider id until its sender reports one:
-- NULL, which R1's UNIQUE (channel, provider_id) of 0001 lets repeat.
ALTER TABLE messages ALTER COLUMN provider_id DROP NOT NULL;

-- R33: the contact replied STOP (or a provider said it did): nothing is sent
-- to it until it opts back in.
ALTER TABLE contacts
    ADD COLUMN opted_out    boolean     NOT NULL DEFAULT false,
    ADD COLUMN opted_out_at timestamptz;

-- Statuses whose message is not known yet: a WhatsApp receipt (which names
-- only the WhatsApp message id) can overtake the sender's own "sent" status
-- that ties the id to the request. Kept here, keyed by request id and/or
-- provider id, and applied (then deleted) when a later status or message
-- names that key. Never dropped: a status is lost only if its message never
-- becomes known.
CREATE TABLE pending_statuses (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         text        NOT NULL,
    contact         text        NOT NULL,
    request_id      text        NOT NULL DEFAULT '',
    provider_id     text        NOT NULL DEFAULT '',
    status          text        NOT NULL,
    status_rank     smallint    NOT NULL,
    provider_status text        NOT NULL DEFAULT '',
    error_code      text        NOT NULL DEFAULT '',
    error_message   text        NOT NULL DEFAULT '',
    at              timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    CHECK (request_id <> '' OR provider_id <> '')
);
-- A replayed batch keeps a pending status once.
CREATE UNIQUE INDEX pending_statuses_once ON pending_statuses (channel, request_id, provider_id, status);
CREATE INDEX pending_statuses_request ON pending_statuses (request_id) WHERE request_id <> '';
CREATE INDEX pending_statuses_provider ON pending_statuses (channel, provider_id) WHERE provider_id <> '';
CREATE INDEX pending_statuses_received ON pending_statuses (received_at);
