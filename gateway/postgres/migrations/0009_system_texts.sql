-- 0009: chatgate's own texts are written by "system" (R37).
-- Why: auto-responder texts, prompts and confirmations are part of the
-- conversation like an agent's replies: stored as outbound messages and
-- published as message_added, with the author desks show. Until now they
-- were stored with sent_by 'auto'; the contract's name for their author is
-- 'system', so the history reads the same for old and new conversations.
UPDATE messages SET sent_by = 'system' WHERE sent_by = 'auto';
