-- Contact centre (issue 8): what the knowledge base looks up (local committees,
-- upcoming events) and the expert inbox (questions by theme, and their answers).
-- The charter version in force is already on every consent row
-- (consent_events.privacy_version, migration 002), so nothing is added for it.

-- Local committees, by postal code. `WHERE 90210` answers with the nearest one:
-- same postal code, else the closest by distance when both ends have a
-- position (US zips: lat/lon from the offline zip table, filled on insert),
-- else the same département / zip3 area (see store/committees.py).
CREATE TABLE committees (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL CHECK (name <> ''),
    address     text        NOT NULL CHECK (address <> ''),
    postal_code text        NOT NULL CHECK (postal_code ~ '^[0-9]{5}$'),
    city        text        NOT NULL DEFAULT '',
    country     text        NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    area        text        NOT NULL,   -- département (75, 2A, 971) or zip3 (902)
    phone       text,
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CHECK (lon BETWEEN -180 AND 180),
    active      boolean     NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX committees_postal_idx ON committees (country, postal_code) WHERE active;
CREATE INDEX committees_area_idx ON committees (country, area) WHERE active;

-- Upcoming events organizers enter; `EVENTS` lists the next few. `program`
-- NULL: shown on every program. Times are UTC; `timezone` is how they are told.
CREATE TABLE campaign_events (
    id          bigserial   PRIMARY KEY,
    program     text,
    title       text        NOT NULL CHECK (title <> ''),
    starts_at   timestamptz NOT NULL,
    timezone    text        NOT NULL,
    location    text        NOT NULL DEFAULT '',
    postal_code text,
    country     text        CHECK (country ~ '^[A-Z]{2}$'),
    area        text,
    published   boolean     NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_events_upcoming_idx ON campaign_events (starts_at) WHERE published;

-- A question no rule answered, in its theme's queue. Inserted in the MO's own
-- transaction (one per MO at most). open -> claimed -> answered; an open
-- question past sla_due is escalated to the theme's leads (still claimable).
-- The claim is one conditional UPDATE, so two experts racing get one winner.
CREATE TABLE questions (
    id            bigserial   PRIMARY KEY,
    msisdn        text        NOT NULL,
    shortcode     text        NOT NULL,
    program       text        NOT NULL,
    theme         text        NOT NULL,
    inbound_id    bigint      NOT NULL UNIQUE REFERENCES inbound (id),
    body          text        NOT NULL,
    via           text        NOT NULL,   -- keyword, menu, prompt, classified, fallback
    status        text        NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'claimed', 'answered', 'escalated')),
    asked_at      timestamptz NOT NULL,   -- the MO's receipt time
    sla_due       timestamptz NOT NULL,
    claimed_by    text,
    claimed_at    timestamptz,
    answered_at   timestamptz,
    escalated_at  timestamptz,
    escalated_to  text[],
    CHECK ((status = 'claimed') <= (claimed_by IS NOT NULL)),
    CHECK ((status = 'answered') = (answered_at IS NOT NULL))
);
CREATE INDEX questions_queue_idx ON questions (theme, asked_at)
    WHERE status IN ('open', 'claimed', 'escalated');
CREATE INDEX questions_due_idx ON questions (sla_due) WHERE status = 'open';
CREATE INDEX questions_contact_idx ON questions (msisdn, shortcode, id);
CREATE INDEX questions_answered_idx ON questions (theme, answered_at) WHERE status = 'answered';

-- The answer an expert gave, and the MT that carries it (sent by the outbox).
-- One per question: the second expert is refused before this, and this index
-- would refuse them anyway.
CREATE TABLE answers (
    id           bigserial   PRIMARY KEY,
    question_id  bigint      NOT NULL UNIQUE REFERENCES questions (id),
    answered_by  text        NOT NULL,
    body         text        NOT NULL,
    outbound_id  bigint      NOT NULL REFERENCES outbound (id),
    answered_at  timestamptz NOT NULL
);
