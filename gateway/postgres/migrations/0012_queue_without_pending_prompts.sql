-- 0012: conversations awaiting the contact's consent are in no queue (R35).
-- Why: a conversation opened (or reopened, or a live chat) when the
-- leave-a-message prompt was sent exists for that session only: until the
-- contact says YES it must not be listed, counted or quick-accepted. The
-- queue's index (0008) leaves those rows out, so the lists and the quick
-- accept's claim, which carry the same condition, still read one index
-- range and never filter pending prompts row by row. Rebuilding the index
-- blocks writes to conversations while it runs: a one-off at upgrade.
DROP INDEX conversations_queue;
CREATE INDEX conversations_queue ON conversations (queued_at, id)
    WHERE state = 'unassigned' AND NOT (intake = 'prompted' AND intake_close_on_decline);
