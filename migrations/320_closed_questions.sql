-- A question that cannot be answered is closed with its reason, not left waiting
-- (issue 16; docs/voice.md "In the inbox"). The first reason: a question recorded on
-- the voice line from a withheld number (`no_number`: no number to answer, and a voice
-- question has no e-mail address). A closed question is out of the waiting queues, the
-- SLA escalation and the digests, and stays visible in the inbox with its reason.
ALTER TABLE questions
    DROP CONSTRAINT questions_status_check,
    ADD CONSTRAINT questions_status_check
        CHECK (status IN ('open', 'claimed', 'answered', 'escalated', 'closed')),
    ADD COLUMN closed_at     timestamptz,
    ADD COLUMN closed_reason text CHECK (closed_reason IN ('no_number')),
    ADD CONSTRAINT questions_closed_facts
        CHECK ((status = 'closed') = (closed_at IS NOT NULL AND closed_reason IS NOT NULL));

CREATE INDEX questions_closed_idx ON questions (theme, closed_at) WHERE status = 'closed';

-- Questions already waiting from a withheld number: closed as of when they were asked.
UPDATE questions
SET status = 'closed', closed_at = asked_at, closed_reason = 'no_number',
    claimed_by = NULL, claimed_at = NULL
WHERE channel = 'voice' AND msisdn IS NULL AND email IS NULL
  AND status IN ('open', 'claimed', 'escalated');
