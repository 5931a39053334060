-- 0011: the contact's language and where it came from (R34).
-- Why: a contact's language picks its auto-texts and the templates offered
-- on template_required. It is set by a desk or ops on the contact's profile
-- (language_override), else reported by its channel (channel_language, the
-- API channel's "language"), else given by the department's mapping of
-- number prefixes, else the department's default. language (of 0003) now
-- holds the language last resolved from those, and language_source the
-- source, so that events and the desk API show the choice and its
-- fallback without recomputing it.
ALTER TABLE contacts
    ADD COLUMN language_source   text NOT NULL DEFAULT ''
        CHECK (language_source IN ('', 'profile', 'channel', 'number_prefix', 'department_default')),
    ADD COLUMN language_override text NOT NULL DEFAULT '',
    ADD COLUMN channel_language  text NOT NULL DEFAULT '';
