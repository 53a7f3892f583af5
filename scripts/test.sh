#!/usr/bin/env bash
# The test command (README, `make test`, .ci/run): starts PostgreSQL if it
# is down, then runs every test against real PostgreSQL and an in-process
# Temporal server, plus a short fuzz pass over the provider decoders.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bash scripts/ensure-postgres.sh
go test -count=1 -timeout 40m ./...
# Short fuzz runs: regressions found earlier live in testdata/fuzz and run
# with the plain tests above.
go test -run '^$' -fuzz '^FuzzDecodePage$' -fuzztime 10s ./connectors/demo/
