-- Questions callers recorded on the voice line (issue 16, menu 3; docs/voice.md):
-- the expert queue's `questions` table gets a fourth channel. A voice question
-- names its recording (one question per recording, whatever the provider
-- replays), has the caller's language, and the caller's number with the short
-- code its SMS answer goes out from, or neither when the number was withheld
-- (then no answer can be sent: the inbox says so). It has no MO, mail or form
-- post. Answers stay by SMS or e-mail (migration 230).
ALTER TABLE questions
    DROP CONSTRAINT questions_channel_check,
    ADD CONSTRAINT questions_channel_check
        CHECK (channel IN ('sms', 'email', 'web', 'voice')),
    ADD COLUMN voice_recording_id bigint UNIQUE REFERENCES voice_recordings (id),
    ADD CONSTRAINT questions_voice_row CHECK (channel <> 'voice' OR (
        voice_recording_id IS NOT NULL AND language IS NOT NULL
        AND inbound_id IS NULL AND mail_inbound_id IS NULL AND web_message_id IS NULL
        AND email IS NULL)),
    ADD CONSTRAINT questions_recording_is_voice
        CHECK (voice_recording_id IS NULL OR channel = 'voice');
