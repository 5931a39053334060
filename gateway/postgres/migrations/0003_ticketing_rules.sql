-- 0003: the ticketing rules (docs/rules.md R3–R16, R22, R27).
-- Why: routing and reachability need departments and agent presence; the
-- out-of-hours leave-a-message flow keeps a session on the conversation; the
-- rules' timers (prompt expiry, intake close, snooze wake-up, archive) are
-- due-time columns a sweep claims with FOR UPDATE SKIP LOCKED. The one-open-
-- conversation-per-contact index of 0001 stays the guarantee that a contact
-- never has two open tickets (R13).

-- A department is a declarative document (time zone, schedule, holidays,
-- agents, routing, texts: ticketing.Department), validated by the service
-- before it is written. Stored whole so that apply/export round-trip it, and
-- applying the same document twice changes nothing (version stays).
CREATE TABLE departments (
    id         text        PRIMARY KEY,
    doc        jsonb       NOT NULL,
    version    bigint      NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Agent presence (R4). An agent counts as reachable while status is online
-- and heartbeat_at is within the presence TTL, so a crashed desk does not
-- leave its agent online forever.
CREATE TABLE agents (
    id           text        PRIMARY KEY,
    status       text        NOT NULL CHECK (status IN ('online', 'away', 'offline')),
    heartbeat_at timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX agents_online ON agents (id) WHERE status = 'online';

-- R16: spam contacts are quarantined. language picks auto-responder texts.
ALTER TABLE contacts
    ADD COLUMN spam     boolean NOT NULL DEFAULT false,
    ADD COLUMN language text    NOT NULL DEFAULT '';

ALTER TABLE conversations
    -- R3: the department it was routed to ('' when none).
    ADD COLUMN department_id            text NOT NULL DEFAULT '',
    -- The address the contact wrote to; auto-responders are sent from it.
    ADD COLUMN business_address         text NOT NULL DEFAULT '',
    -- R6–R12: the leave-a-message session: '' (none), prompted, leaving.
    ADD COLUMN intake                   text NOT NULL DEFAULT '' CHECK (intake IN ('', 'prompted', 'leaving')),
    ADD COLUMN intake_close_on_decline  boolean NOT NULL DEFAULT false,
    ADD COLUMN prompt_expires_at        timestamptz, -- R10
    ADD COLUMN intake_closes_at         timestamptz, -- R12
    ADD COLUMN snooze_until             timestamptz, -- R22
    ADD COLUMN snoozed_from             text NOT NULL DEFAULT '',
    ADD COLUMN archive_at               timestamptz, -- R27
    ADD COLUMN archived_at              timestamptz,
    -- The earliest timer, kept by PostgreSQL, so the sweep reads one index.
    ADD COLUMN next_due_at              timestamptz GENERATED ALWAYS AS
        (LEAST(prompt_expires_at, intake_closes_at, snooze_until, archive_at)) STORED;

CREATE INDEX conversations_due ON conversations (next_due_at) WHERE next_due_at IS NOT NULL;
