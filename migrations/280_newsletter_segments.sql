-- Newsletter segments (issue #15 item 9, docs/email.md "Newsletters"): an e-mail
-- broadcast may now carry the same audience filter as an SMS broadcast. A
-- confirmed subscriber is in the segment when a number verified to be the same
-- person (person_addresses) has a contact on one of the program's short codes
-- that matches the filter (gateway/store/newsletter_segments.py). Migration 251
-- forced filter '' for e-mail; only that part of its CHECK is relaxed here.
ALTER TABLE broadcasts
    DROP CONSTRAINT broadcasts_email_shape,
    ADD CONSTRAINT broadcasts_email_shape CHECK (
        (channel = 'sms' AND subject IS NULL)
        OR (channel = 'email' AND subject <> '' AND shortcode = ''));
