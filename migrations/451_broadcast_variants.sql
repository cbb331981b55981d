-- A/B tests of a broadcast (issue 18 item 6, docs/links-and-results.md).
--
-- broadcast_variants: the texts tried, 1 to 4 (variant 1 is the broadcast's own
--   template, repeated here so every variant reads the same way).
-- broadcasts.ab_*: the test's settings and where it stands.
--   ab_test_percent  the share of the audience that gets the test (split between
--                    the variants); the rest waits for the winner
--   ab_metric        what decides: most clicks, replies, gifts, or fewest opt-outs,
--                    each per text sent of the variant
--   ab_wait          how long after the test texts are written the winner is chosen
--   ab_auto          chosen and sent at ab_decide_at by the gateway; false: an
--                    organizer's click decides (the page shows the numbers)
--   ab_phase         'testing' (writing the test texts), 'waiting' (the test's texts
--                    are out; the rest waits), 'decided' (the winner goes to the rest)
-- outbound.variant: which text a recipient got (NULL: not an A/B broadcast). One row
--   per (broadcast, number) already makes two variants to one person impossible.
CREATE TABLE broadcast_variants (
    broadcast_id bigint   NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    variant      smallint NOT NULL CHECK (variant BETWEEN 1 AND 4),
    template     text     NOT NULL,
    PRIMARY KEY (broadcast_id, variant)
);

ALTER TABLE broadcasts
    ADD COLUMN ab_test_percent smallint CHECK (ab_test_percent BETWEEN 1 AND 100),
    ADD COLUMN ab_metric       text CHECK (ab_metric IN ('clicks', 'replies', 'gifts',
                                                        'opt_outs')),
    ADD COLUMN ab_wait         interval,
    ADD COLUMN ab_auto         boolean NOT NULL DEFAULT true,
    ADD COLUMN ab_phase        text CHECK (ab_phase IN ('testing', 'waiting', 'decided')),
    ADD COLUMN ab_decide_at    timestamptz,
    ADD COLUMN ab_winner       smallint CHECK (ab_winner BETWEEN 1 AND 4),
    ADD CONSTRAINT broadcasts_ab_shape CHECK (
        (ab_phase IS NULL) = (ab_test_percent IS NULL)
        AND (ab_phase IS NULL) = (ab_metric IS NULL)
        AND (ab_phase IS NULL) = (ab_wait IS NULL)
        AND (ab_phase <> 'decided' OR ab_winner IS NOT NULL));

ALTER TABLE outbound ADD COLUMN variant smallint CHECK (variant BETWEEN 1 AND 4);
