-- API tokens expire. A token made before this migration gets 90 days from now
-- (the default lifetime, GATEWAY_WEB_TOKEN_DAYS), so scripts keep working while
-- their owners make new ones; a revoked one keeps its revocation as well.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
UPDATE api_tokens SET expires_at = clock_timestamp() + interval '90 days';
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
