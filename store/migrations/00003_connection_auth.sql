-- +goose Up
-- OAuth connections (credentials/): how a connection authenticates, and
-- what its token refreshes did, without any secret. secret_version counts
-- changes of the encrypted secret: a refresh writes a new secret only if
-- the version is still the one it read (under the row lock), so two
-- workers refreshing at once never overwrite the newer token, and a
-- connection replaced by `connections add` is noticed by every worker.
ALTER TABLE connections
    ADD COLUMN auth_kind text NOT NULL DEFAULT 'none'
        CHECK (auth_kind IN ('none', 'static', 'refresh', 'jwt')),
    ADD COLUMN token_url        text NOT NULL DEFAULT '',
    ADD COLUMN secret_version   bigint NOT NULL DEFAULT 1,
    ADD COLUMN token_expires_at timestamptz,
    -- The last refresh attempt, its outcome ('ok', 'auth': the provider
    -- refused the credentials, 'retryable': it could not be reached) and
    -- the provider's reason.
    ADD COLUMN refreshed_at     timestamptz,
    ADD COLUMN refresh_outcome  text CHECK (refresh_outcome IN ('ok', 'auth', 'retryable')),
    ADD COLUMN refresh_error    text NOT NULL DEFAULT '',
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();
UPDATE connections SET auth_kind = 'static' WHERE secret IS NOT NULL;

-- +goose Down
ALTER TABLE connections
    DROP COLUMN auth_kind, DROP COLUMN token_url, DROP COLUMN secret_version,
    DROP COLUMN token_expires_at, DROP COLUMN refreshed_at, DROP COLUMN refresh_outcome,
    DROP COLUMN refresh_error, DROP COLUMN updated_at;
