-- 0010: a contact ends a live chat (R24).
-- Why: a contact ends a live chat with an end keyword or the API channel's
-- end_chat; the chat stays open, but replies are refused and agents may
-- only resolve or delete it until the contact writes again, which resumes
-- the same conversation. The moment it left is kept on the conversation,
-- NULL while the contact is in the chat; quick accept and the window
-- warning skip conversations whose contact left.
ALTER TABLE conversations ADD COLUMN contact_left_at timestamptz;
