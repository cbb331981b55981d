-- The send API (issue 18; gateway/services/send_api.py, docs/send-api.md).
--
-- api_send_batches: one accepted POST /api/v1/messages. With an Idempotency-Key, the
--   key is unique per user while it is remembered (GATEWAY_SEND_API_IDEMPOTENCY_HOURS):
--   a second request with it waits on this unique index for the first to commit, then
--   gets the stored `response` (or 422 when `request_hash`, the SHA-256 of the
--   canonical JSON body, differs). An expired key is set NULL (the batch stays
--   listable by its id) so the key can be used again.
-- api_messages: one entry of the batch (`position`: its index in the request): a
--   number or a segment of a program. Each is sent as a broadcast (broadcast_id), so
--   its outbox row is outbound (broadcast_id, msisdn). `refused`: why it was never
--   queued (opted out, not subscribed to the program); NULL when it was.
CREATE TABLE api_send_batches (
    id              bigserial   PRIMARY KEY,
    user_id         bigint      NOT NULL REFERENCES users (id),
    token_id        bigint      REFERENCES api_tokens (id),
    idempotency_key text        CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    bytea       NOT NULL,
    status_code     smallint,
    response        jsonb,
    created_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX api_send_batches_key_idx ON api_send_batches (user_id, idempotency_key);

CREATE TABLE api_messages (
    id           bigserial   PRIMARY KEY,
    batch_id     bigint      NOT NULL REFERENCES api_send_batches (id) ON DELETE CASCADE,
    position     integer     NOT NULL CHECK (position >= 0),
    program      text        NOT NULL,
    msisdn       text,
    segment      text,
    broadcast_id bigint      REFERENCES broadcasts (id),
    refused      text        CHECK (refused IN ('opted_out', 'not_subscribed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (batch_id, position),
    CHECK ((msisdn IS NULL) <> (segment IS NULL))
);
CREATE INDEX api_messages_outbox_idx ON api_messages (broadcast_id, msisdn);
CREATE INDEX api_messages_msisdn_idx ON api_messages (msisdn) WHERE msisdn IS NOT NULL;
