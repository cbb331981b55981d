-- A staff user's own time zone and language for the admin pages ("My settings").
-- NULL: the organization's (GATEWAY_ORGANIZATION_TIMEZONE, GATEWAY_ORGANIZATION_LANGUAGE),
-- so a change of those settings reaches everyone who has not chosen.
ALTER TABLE users
    ADD COLUMN time_zone text CHECK (time_zone <> ''),
    ADD COLUMN language  text CHECK (language IN ('en', 'fr'));
