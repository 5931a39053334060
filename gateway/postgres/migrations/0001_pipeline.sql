-- 0001: the pipeline's core tables.
-- Why: the worker stores contacts, conversations and messages in one
-- transaction per Kafka batch, and writes every event it must publish into the
-- outbox in that same transaction (transactional outbox), so a crash can never
-- leave a stored change without its event or an event without its change.

CREATE TABLE contacts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         text        NOT NULL CHECK (channel IN ('api', 'sms', 'whatsapp')),
    address         text        NOT NULL,
    name            text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    -- The contact's last inbound message: WhatsApp's 24-hour window runs from it (R28).
    last_inbound_at timestamptz,
    -- One contact is one address on one channel (docs/rules.md).
    UNIQUE (channel, address)
);

-- Conversation ids are allocated by the worker in one round trip per batch
-- (nextval over generate_series), so the pure decision core can work with
-- new conversations before they are written.
CREATE SEQUENCE conversations_id_seq;

CREATE TABLE conversations (
    id              bigint      PRIMARY KEY DEFAULT nextval('conversations_id_seq'),
    contact_id      bigint      NOT NULL REFERENCES contacts (id),
    kind            text        NOT NULL CHECK (kind IN ('live_chat', 'ticket')),
    state           text        NOT NULL CHECK (state IN ('unassigned', 'assigned', 'snoozed', 'closed', 'deleted')),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_message_at timestamptz NOT NULL,
    last_inbound_at timestamptz,
    message_count   integer     NOT NULL DEFAULT 0,
    closed_at       timestamptz,
    close_reason    text
);
ALTER SEQUENCE conversations_id_seq OWNED BY conversations.id;

-- At most one open conversation per contact: every message of a contact lands
-- in that one thread (and so at most one open ticket, R13). A concurrent
-- writer that would open a second one fails and its batch is retried.
CREATE UNIQUE INDEX conversations_one_open_per_contact
    ON conversations (contact_id) WHERE state IN ('unassigned', 'assigned', 'snoozed');
CREATE INDEX conversations_contact ON conversations (contact_id, id DESC);

CREATE SEQUENCE messages_id_seq;

CREATE TABLE messages (
    id              bigint      PRIMARY KEY DEFAULT nextval('messages_id_seq'),
    conversation_id bigint      REFERENCES conversations (id),
    contact_id      bigint      NOT NULL REFERENCES contacts (id),
    channel         text        NOT NULL,
    direction       text        NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    -- The provider's id (WhatsApp message id, Twilio MessageSid, API id).
    provider_id     text        NOT NULL,
    body            text        NOT NULL,
    seq             integer     NOT NULL,
    sent_at         timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL,
    -- R1: a provider message is stored once, whatever the redeliveries.
    UNIQUE (channel, provider_id)
);
ALTER SEQUENCE messages_id_seq OWNED BY messages.id;
CREATE INDEX messages_conversation ON messages (conversation_id, seq);

-- The transactional outbox. The relay publishes unpublished rows in id order
-- and marks them; published rows are deleted after a retention period.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text        NOT NULL,
    key          bytea       NOT NULL,
    value        bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
