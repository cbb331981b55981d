-- API token scopes (gateway/web/access.py API_SCOPES, docs/send-api.md).
--
-- A token holds the scopes chosen when it was made, each one a name of the fixed
-- list below. NULL: a token made before scopes existed, which keeps working as it
-- did: it holds every scope its owner's role allows (computed when it is used, from
-- gateway/web/access.py), so no script breaks on the upgrade; its owner can replace
-- it with a narrower one on the "My API tokens" page.
ALTER TABLE api_tokens ADD COLUMN scopes text[]
    CHECK (scopes <@ ARRAY['messages:send', 'messages:read', 'contacts:read', 'contacts:write',
                           'contacts:export', 'broadcasts:read', 'broadcasts:write',
                           'donations:read', 'donations:write', 'webhooks:manage',
                           'admin']::text[]);
