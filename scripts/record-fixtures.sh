#!/usr/bin/env bash
# Re-records the replay fixtures in workflows/testdata from real runs: the
# end-to-end tests below run on an in-process Temporal server and
# PostgreSQL, and each writes its loop's history when
# SYNCLOOP_RECORD_HISTORY=1. Run it only when a change goes behind a new
# version constant (docs/ARCHITECTURE.md, "Versioning"): the fixtures of
# released behaviour are the compatibility contract, and are added to,
# not replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bash scripts/ensure-postgres.sh
tests=(
  TestInitialFullSync
  TestIncrementalSyncFetchesOnlyChanges
  TestAlwaysFailingProviderFailsCyclesButTheLoopKeepsRunning
  TestProviderErrorsOnSomePagesGivePartiallyCompleted
  TestPauseStopsCyclesAndResumeRestartsThem
  TestSetIntervalSignalRearmsTimer
  TestTriggerDuringCycleRunsExactlyOneMore
  TestContinueAsNewKeepsStateAndCycleNumbers
  TestContinueAsNewCarriesAPendingTriggerAndSettings
  TestChurningObjectBacksOffAndComesBack
  TestCancelCycleRecordsItFailedAndTheLoopGoesOn
  TestSyncOffHoldsEveryLoopAndOnResumesThem
  TestQuietCycleCost
  TestAuthFailureHoldsTheLoopUntilTriggered
)
# Fixtures of behaviour that later changed are kept (the loop must still
# replay them), though no test writes them any more: those in
# workflows/testdata/before-cycle-activity predate versionCycleActivity,
# those in workflows/testdata/before-local-cycle versionLocalCycle (of
# them, syncloop_sync_off_on.json also predates the sync-off signal, and
# syncloop_trigger_burst.json the Queued row, versionQueuedRow). When a
# new version constant changes the commands again, move the current
# fixtures into a directory named after it the same way and re-record.
run=$(IFS='|'; echo "^(${tests[*]})\$")
SYNCLOOP_RECORD_HISTORY=1 go test -count=1 -v -run "$run" ./e2e/ | grep -E '^(---|ok|FAIL)|recorded'
