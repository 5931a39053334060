-- 0004: message templates (R29, R30).
-- Why: ops create, edit, approve and disable WhatsApp/SMS templates, and the
-- send path must find the approved copy that fits a conversation. An edit
-- never changes a stored row's content: it adds a new version (a draft), so
-- what was approved is never silently changed, and the approved version
-- stays the one that is sent until its successor is approved.
CREATE TABLE templates (
    -- Template name (WhatsApp's rule: a-z, 0-9, _) and canonical language
    -- (pt_BR, zh_Hant_TW, es_419); the pair names one template copy. The
    -- checks keep non-canonical spellings out, so equality is enough to match.
    name               text        NOT NULL CHECK (name ~ '^[a-z0-9_]+$' AND length(name) <= 512),
    language           text        NOT NULL CHECK (language ~ '^[a-z]{2,3}(_[A-Z][a-z]{3})?(_([A-Z]{2}|[0-9]{3}))?$'),
    -- Counts the edits of (name, language): 1 on create, +1 per update.
    version            integer     NOT NULL CHECK (version >= 1),
    status             text        NOT NULL CHECK (status IN ('draft', 'approved', 'rejected', 'disabled')),
    category           text        NOT NULL CHECK (category IN ('utility', 'marketing', 'authentication')),
    -- Channel scope: where the template may be sent.
    channel            text        NOT NULL CHECK (channel IN ('whatsapp', 'sms', 'any')),
    header             text        NOT NULL DEFAULT '',
    body               text        NOT NULL,
    footer             text        NOT NULL DEFAULT '',
    -- Quick-reply buttons as [{"text": "…"}], in display order.
    buttons            jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(buttons) = 'array'),
    -- Provider references: Twilio Content SID, WhatsApp template name and
    -- namespace; '' when not registered with that provider.
    twilio_content_sid text        NOT NULL DEFAULT '',
    whatsapp_name      text        NOT NULL DEFAULT '',
    whatsapp_namespace text        NOT NULL DEFAULT '',
    -- The latest version of (name, language): what ops see and edit.
    is_current         boolean     NOT NULL,
    -- created_at: when this version was written; updated_at: its last status change.
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    -- A version is written once: (name, language, version) never repeats.
    CONSTRAINT templates_pkey PRIMARY KEY (name, language, version)
);

-- Exactly one current row per (name, language): a second create of the same
-- pair fails here (the store reports a duplicate), and an update must retire
-- the current row in the same transaction as it adds the next version.
CREATE UNIQUE INDEX templates_one_current ON templates (name, language) WHERE is_current;

-- At most one approved (sendable) version per (name, language): approving a
-- new version disables the one it replaces, so the send path never has to
-- choose between two approved copies.
CREATE UNIQUE INDEX templates_one_approved ON templates (name, language) WHERE status = 'approved';
-- templates_one_current also serves listing current templates page by page
-- in (name, language) order, so no further index is needed.
