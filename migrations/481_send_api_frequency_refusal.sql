-- The send API names the numbers its program's promised frequency refused (issue 18;
-- gateway/services/send_api.py, docs/send-api.md): a batch's number that already had
-- the promised number of messages is `refused` 'frequency_limit', like an opted-out
-- one, and the others are sent.
ALTER TABLE api_messages DROP CONSTRAINT api_messages_refused_check,
    ADD CONSTRAINT api_messages_refused_check
        CHECK (refused IN ('opted_out', 'not_subscribed', 'frequency_limit'));
