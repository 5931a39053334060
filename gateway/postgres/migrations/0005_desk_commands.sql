-- 0005: the desk reply path (R28–R31) and the window warning.
-- Why: desk commands arrive over Kafka and HTTP with a client request id and
-- must be carried out once whatever the retries: each outcome (carried out
-- or refused, with the stored message) is kept under its request id, in the
-- same transaction as its effects, and a repeated request id answers with it.
-- Agents' replies are stored as outbound messages that name the template
-- copy they were rendered from. The WhatsApp window warning must be
-- published once per window, so the window it was published for is kept on
-- the conversation.

CREATE TABLE desk_commands (
    -- The client's idempotency key; one outcome per request id.
    request_id      text        PRIMARY KEY,
    -- The command type (chatgate.command.reply, …).
    type            text        NOT NULL,
    -- The conversation the command named (it may not exist: the outcome
    -- says so), and the acting agent.
    conversation_id bigint      NOT NULL,
    agent_id        text        NOT NULL,
    -- SHA-256 of the command's content: the same request id with another
    -- content is refused (request_id_reused), not answered with this outcome.
    fingerprint     text        NOT NULL,
    -- ticketing.Outcome as JSON, returned unchanged on a repeat.
    outcome         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL
);

-- The template copy an outbound message was rendered from:
-- {"name":…,"language":…,"version":…}; NULL for free text and inbound.
ALTER TABLE messages ADD COLUMN template jsonb;

-- The contact's last inbound time whose window the window_closing warning
-- was published for; a new message from the contact opens a new window,
-- which is warned about again.
ALTER TABLE conversations ADD COLUMN window_warned_for timestamptz;

-- The warning sweep reads the unassigned conversations whose window closes
-- within the lead time (a range of last_inbound_at) and were not warned for
-- it; warned rows leave the index.
CREATE INDEX conversations_window_warning ON conversations (last_inbound_at)
    WHERE state = 'unassigned' AND last_inbound_at IS NOT NULL AND window_warned_for IS DISTINCT FROM last_inbound_at;
