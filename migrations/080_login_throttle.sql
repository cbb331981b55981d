-- Login throttling by (account, client address), replacing the count of rows in
-- login_attempts. One row per key; "may this attempt go ahead" is one atomic
-- INSERT ... ON CONFLICT DO UPDATE ... WHERE next_allowed_at <= now on that row
-- (gateway/store/login_throttle.py), taken BEFORE the password is hashed, so a
-- burst of concurrent guesses is serialized on the row and cannot all be checked.
--
-- scope 'account': the row of one e-mail from one address. Its failures delay
--   only that pair, so the right password from another address still works.
-- scope 'address': the row of one address across every e-mail (email = ''),
--   looser, to slow spraying many accounts from one place.
-- An attempt counts as a failure when it is granted; a good password takes it
-- back. Delays grow (doubling) and are capped: nothing here ever locks for good.
CREATE TABLE login_throttle (
    scope           text        NOT NULL CHECK (scope IN ('account', 'address')),
    email           text        NOT NULL,
    client          text        NOT NULL,
    failures        integer     NOT NULL CHECK (failures >= 0),
    next_allowed_at timestamptz NOT NULL,
    PRIMARY KEY (scope, email, client),
    CHECK (scope = 'account' OR email = '')
);
-- The hourly purge drops rows idle for a whole window after their last delay.
CREATE INDEX login_throttle_idle_idx ON login_throttle (next_allowed_at);

-- The wait after the `failures`-th counted failure: none for the first
-- `free` - 1, then 1 s, 2 s, 4 s ... doubling, never more than `cap_s` seconds.
CREATE FUNCTION login_delay(failures integer, free integer, cap_s double precision)
RETURNS interval
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN failures < free THEN interval '0'
                ELSE make_interval(secs => least(cap_s, power(2, least(failures - free, 40))))
           END
$$;
