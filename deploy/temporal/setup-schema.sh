#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to
# the version of this admin-tools image. Run by the one-shot
# "temporal-schema" service of docker-compose.yml before the server starts;
# safe to run again (existing databases are kept, applied versions skipped).
#
# Connection settings come from temporal-sql-tool's environment variables:
# SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
set -eu

: "${SQL_HOST:?set SQL_HOST to the PostgreSQL host}"
: "${SQL_USER:?set SQL_USER to a PostgreSQL role that may create databases}"
plugin="${SQL_PLUGIN:-postgres12}"

for pair in "${TEMPORAL_DB:-temporal}:temporal" "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}:visibility"; do
  db="${pair%%:*}"
  schema="postgresql/v12/${pair#*:}"
  echo "temporal-schema: database $db ($schema)"
  # CREATE DATABASE fails when the database exists, which is the normal
  # case on every start after the first; a real connection problem makes
  # the next command fail loudly.
  if ! temporal-sql-tool --plugin "$plugin" --db "$db" create-database >/dev/null 2>&1; then
    echo "temporal-schema: $db exists already (or could not be created; the next step will tell)"
  fi
  temporal-sql-tool --plugin "$plugin" --db "$db" setup-schema -v 0.0
  temporal-sql-tool --plugin "$plugin" --db "$db" update-schema --schema-name "$schema"
done
echo "temporal-schema: done"
