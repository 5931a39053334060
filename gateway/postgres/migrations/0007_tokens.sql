-- 0007: bearer tokens issued with `chatgate tokens create`.
-- Why: the bootstrap tokens of the environment (CHATGATE_API_TOKEN, …) are
-- one per role and can only be changed by restarting with new ones; agents,
-- supervisors and desks each need their own token that ops can issue, list
-- and revoke while chatgate runs (issue 6 item 1). The secret itself is never
-- stored: only its SHA-256 digest, which is what a presented token is looked
-- up by, so a copy of this table admits nobody.

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role         text        NOT NULL
        CHECK (role IN ('agent', 'supervisor', 'desk', 'ops', 'api-channel')),
    -- The agent an agent or supervisor token acts as; '' for the service
    -- roles (desk, ops, api-channel), which name the agent in each request.
    agent_id     text        NOT NULL DEFAULT '',
    -- Free text for people: whose token it is, what it is for.
    label        text        NOT NULL DEFAULT '',
    -- SHA-256 of the secret ("cg_" + 32 random bytes, base64url). Random
    -- secrets need no salt or slow hash: there is nothing to guess from.
    digest       bytea       NOT NULL UNIQUE CHECK (octet_length(digest) = 32),
    created_at   timestamptz NOT NULL,
    -- Set once by `chatgate tokens revoke`; a revoked token admits nobody.
    -- Rows are kept for audit (Principal.TokenID in logs names them).
    revoked_at   timestamptz,
    -- When a request last presented the token, written at most once a
    -- minute per token so that authenticating is not a write per request.
    last_used_at timestamptz,
    CHECK ((role IN ('agent', 'supervisor')) = (agent_id <> ''))
);
