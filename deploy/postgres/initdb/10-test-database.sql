-- Runs once, when the postgres service initialises an empty data volume.
-- The syncloop database itself is POSTGRES_DB; Temporal's databases are
-- created by the temporal-schema service. This adds the database the Go
-- tests use by default (TEST_DATABASE_URL), so that
-- `docker compose up -d postgres` is enough to run `make test`.
CREATE DATABASE test;
