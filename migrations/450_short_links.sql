-- Tracked short links in broadcasts (issue 18 item 5, docs/links-and-results.md).
--
-- short_links: one row per link of a broadcast's text per recipient, written in
--   the transaction that writes the recipient's outbox row (store/short_links.py,
--   its one writer), so the text and its links are never apart. `token` is
--   secrets.token_urlsafe (96 random bits), unique: the only way in; nothing
--   counts up, nothing is derived from the number or the broadcast. `destination`
--   is fixed here at send time: editing the broadcast later changes nothing.
--   `clicks`: times a person (not a preview bot) followed it; `first_clicked_at`:
--   the first such time (a link followed at least once counts once for "unique").
--   `bot_visits`: link previews and prefetchers, kept apart, never counted as people.
-- link_clicks: each person's click, for totals over time and the person's timeline.
CREATE TABLE short_links (
    id               bigserial   PRIMARY KEY,
    token            text        NOT NULL UNIQUE CHECK (length(token) >= 16),
    broadcast_id     bigint      NOT NULL REFERENCES broadcasts (id),
    msisdn           text        NOT NULL,
    shortcode        text        NOT NULL,
    position         smallint    NOT NULL CHECK (position >= 0),
    destination      text        NOT NULL CHECK (destination ~ '^https?://'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    clicks           integer     NOT NULL DEFAULT 0 CHECK (clicks >= 0),
    first_clicked_at timestamptz,
    bot_visits       integer     NOT NULL DEFAULT 0 CHECK (bot_visits >= 0),
    UNIQUE (broadcast_id, msisdn, position)
);
CREATE INDEX short_links_msisdn_idx ON short_links (msisdn);

CREATE TABLE link_clicks (
    id         bigserial   PRIMARY KEY,
    link_id    bigint      NOT NULL REFERENCES short_links (id) ON DELETE CASCADE,
    clicked_at timestamptz NOT NULL
);
CREATE INDEX link_clicks_link_idx ON link_clicks (link_id);
