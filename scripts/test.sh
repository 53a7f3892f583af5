#!/usr/bin/env bash
# The test command (README, `make test`, .ci/run): starts PostgreSQL if it
# is down, then runs every test against real PostgreSQL and an in-process
# Temporal server, plus a short fuzz pass over the provider decoders.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bash scripts/ensure-postgres.sh
go test -count=1 -timeout 40m ./...
# Short fuzz runs over everything that decodes untrusted input; inputs
# that once failed live in testdata/fuzz and run with the plain tests.
fuzz() { go test -run '^$' -fuzz "^$1\$" -fuzztime "${FUZZTIME:-5s}" "$2" | tail -n 1; }
fuzz FuzzDecodePage ./connectors/demo/
fuzz FuzzDecodeQueryResponse ./connectors/salesforce/
fuzz FuzzDecodeDeletedResponse ./connectors/salesforce/
fuzz FuzzDecodePageToken ./connectors/salesforce/
fuzz FuzzDecodeListResponse ./connectors/hubspot/
fuzz FuzzDecodeSearchResponse ./connectors/hubspot/
fuzz FuzzDecodeAddObject ./api/
fuzz FuzzParseObjectPath ./api/
fuzz FuzzParseQuery ./api/
