-- 0008: desk operations (docs/rules.md R17–R26).
-- Why: desks accept, quick-accept, transfer, return, resolve, reopen, snooze,
-- delete, mark spam or unread and comment through chatgate, and list the
-- queues with chatgate enforcing who sees what. A conversation must therefore
-- know its assignee, who closed it, whether it is unread, which agents wrote
-- on it and when it entered the unassigned queue; the queues are read page by
-- page in a stable order through partial indexes, so a list of 100,000 open
-- tickets costs an index range scan, never a sort of the table; search uses
-- PostgreSQL full-text search through GIN indexes, not LIKE over every row.

ALTER TABLE conversations
    -- The agent working on it (R18, R19); '' when nobody is. Kept when the
    -- conversation is closed or snoozed, so "closed" lists can show whose it was.
    ADD COLUMN assignee     text        NOT NULL DEFAULT '',
    ADD COLUMN assigned_at  timestamptz,
    -- The agent who resolved it (R20); '' when a rule closed it.
    ADD COLUMN closed_by    text        NOT NULL DEFAULT '',
    -- R23: mark unread / read. A new message of the contact makes it unread.
    ADD COLUMN unread       boolean     NOT NULL DEFAULT false,
    -- R25: the agents who wrote on it or were assigned it, in order.
    ADD COLUMN participants text[]      NOT NULL DEFAULT '{}',
    -- When it last entered the unassigned queue (created, reopened, returned,
    -- transferred to a department): R17 lists the queue most recent first,
    -- R18 quick-accepts the oldest first, both by this time.
    ADD COLUMN queued_at    timestamptz;

UPDATE conversations SET queued_at = created_at WHERE queued_at IS NULL;

-- R17, R18: the unassigned queue, newest first for lists, oldest first for
-- quick accept (the same index read backwards).
CREATE INDEX conversations_queue ON conversations (queued_at, id) WHERE state = 'unassigned';
-- R19: assigned to one agent, most recently assigned first; supervisors'
-- list grouped by agent and their per-agent counts read the same index.
CREATE INDEX conversations_assigned ON conversations (assignee, assigned_at DESC, id DESC) WHERE state = 'assigned';
-- R20: closed, closed by one agent, and closed while assigned to one agent
-- (an agent's own closed list), most recently closed first.
CREATE INDEX conversations_closed ON conversations (closed_at, id) WHERE state = 'closed';
CREATE INDEX conversations_closed_by ON conversations (closed_by, closed_at, id) WHERE state = 'closed' AND closed_by <> '';
CREATE INDEX conversations_closed_assignee ON conversations (assignee, closed_at, id) WHERE state = 'closed' AND assignee <> '';
-- R22: snoozed, soonest back first.
CREATE INDEX conversations_snoozed ON conversations (snooze_until, id) WHERE state = 'snoozed';

-- R26: search by a word of a message ('simple' configuration: contacts
-- write in many languages, so words are matched as written, without
-- stemming), by the contact's name, and by its address.
CREATE INDEX messages_body_fts ON messages USING gin (to_tsvector('simple', body));
CREATE INDEX contacts_name_fts ON contacts USING gin (to_tsvector('simple', name));
CREATE INDEX contacts_address ON contacts (address);

-- R25: with "sign" on, an agent's free-text replies carry its display name.
ALTER TABLE agents
    ADD COLUMN sign         boolean NOT NULL DEFAULT false,
    ADD COLUMN display_name text    NOT NULL DEFAULT '';

-- The events of a conversation that its messages do not already show
-- (assigned, transferred, returned, snoozed, closed, comment_added, …), with
-- the acting agent, so GET /v1/tickets/{id} returns its whole history.
-- Written in the transaction that publishes the event.
CREATE TABLE conversation_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint      NOT NULL REFERENCES conversations (id),
    -- The CloudEvents id of the published event, for desks that dedupe.
    event_id        text        NOT NULL,
    type            text        NOT NULL,
    -- The acting agent; '' for a rule or timer.
    actor           text        NOT NULL DEFAULT '',
    reason          text        NOT NULL DEFAULT '',
    -- The event's details besides the conversation snapshot (transfer,
    -- comment with its mentions, …).
    data            jsonb       NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL
);
CREATE INDEX conversation_events_conversation ON conversation_events (conversation_id, id);
