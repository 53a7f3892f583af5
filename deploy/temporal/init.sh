#!/bin/sh
# Prepares the Temporal namespace syncloop uses, once the server answers:
# registers it if missing and adds syncloop's custom search attributes.
# Run by the one-shot "temporal-init" service of docker-compose.yml; safe to
# run again. The worker also adds missing search attributes when it starts
# (it needs operator rights for that, which this local server grants to
# everyone); registering them here lets the API and the CLI start first.
#
# Uses the temporal CLI with TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE.
set -eu

ns="${TEMPORAL_NAMESPACE:-default}"
retention="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
attempts="${TEMPORAL_INIT_ATTEMPTS:-60}"

n=1
until temporal operator cluster health >/dev/null 2>&1; do
  if [ "$n" -ge "$attempts" ]; then
    echo "temporal-init: Temporal at ${TEMPORAL_ADDRESS:-?} is not healthy after $attempts tries" >&2
    temporal operator cluster health
    exit 1
  fi
  n=$((n + 1))
  sleep 2
done

if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "temporal-init: namespace $ns exists"
else
  temporal operator namespace create --namespace "$ns" --retention "$retention"
  echo "temporal-init: namespace $ns registered (retention $retention)"
fi

# The names and types are syncloop's stable interface (DESIGN.md).
for attr in SyncTenant:Keyword SyncProvider:Keyword SyncObjectType:Keyword SyncState:Keyword \
            SyncLastSuccessAt:Datetime SyncNextRunAt:Datetime; do
  name="${attr%%:*}"
  type="${attr#*:}"
  n=1
  # A namespace that was just created can take a moment to be usable.
  until temporal operator search-attribute create --namespace "$ns" --name "$name" --type "$type" >/dev/null 2>&1 ||
        temporal operator search-attribute list --namespace "$ns" | grep -qw "$name"; do
    if [ "$n" -ge "$attempts" ]; then
      echo "temporal-init: cannot add search attribute $name ($type) to namespace $ns:" >&2
      temporal operator search-attribute create --namespace "$ns" --name "$name" --type "$type"
      exit 1
    fi
    n=$((n + 1))
    sleep 2
  done
done
echo "temporal-init: search attributes ready in namespace $ns"
