package workflows

// Workflow versions (docs/ARCHITECTURE.md, "Versioning").
//
// A change that alters the commands SyncLoop or Watcher issue declares
// its change ID here, one constant each with a comment saying what it
// changed, and reads it with workflow.GetVersion; histories recorded
// before it replay the old branch. The fixtures in testdata without a
// version marker are the first release's behaviour.
//
// versionQueuedRow (2026-12): a sync-now that arrives while Retrieve runs
// writes the next cycle's `Queued` row at once (QueueCycle local
// activity); before it, the buffered trigger showed only in the status
// query. Fixtures: syncloop_trigger_burst (before), syncloop_trigger_burst_queued.
const versionQueuedRow = "queued-row"

// versionLocalCycle (2026-12): a cycle is one workflow task. StartCycle,
// RetrieveLocal (Retrieve within a budget of pages and seconds) and
// FinishCycle run as local activities of the task the timer wakes, and
// the `running` search attribute is upserted only when the cycle outgrows
// the budget and continues in a regular, heartbeating Retrieve activity.
// A quiet cycle is then three actions (the local activities, one upsert,
// the next timer) and nine events, where it was seven actions and fifteen
// events (upsert running, StartCycle, Retrieve scheduled, FinishCycle,
// upsert, timer). Under the same version, a run upserts the object's
// search attributes only if it lacks them, and continues as new at
// localHistoryCap (100 events) instead of 10,000, so a cycle of a loop
// the worker's cache no longer holds replays little. Fixtures: every one
// recorded before it (testdata/before-local-cycle), syncloop_local_cycle
// and the re-recorded ones in testdata.
const versionLocalCycle = "local-cycle"

// versionHoldFailing (2026-12): a cycle that fails with an auth or config
// error (activities.ErrTypeAuth, ErrTypeConfig: revoked token, refused
// refresh, unknown field, object not offered, missing connection) holds
// the loop in state `failing`: its next scheduled cycle is a re-check
// failingRecheck (24 h) after that cycle ended, instead of the failure
// back-off, so the loop stops calling the provider with credentials or a
// configuration that cannot work. A trigger (the control plane sends one
// to every loop of a connection an operator replaces or updates) still
// runs a cycle at once; a cycle that does not fail that way ends the
// hold. Before it, such a cycle backed off like any failure. The version
// is read only where a hold begins, so cycles that do not start one
// record no marker. The hold is carried across continue-as-new
// (CarriedState.Failing). Fixture: syncloop_failing_hold.
const versionHoldFailing = "hold-failing"

// versionCycleActivity (2026-12): a cycle starts as one local activity,
// RunCycle, which starts the row, retrieves within the local budget and,
// when the listing ended within it, finishes the row with the steps the
// workflow would have written (model.RetrievedSteps). A quiet cycle is
// then one marker instead of three: 7 events where it was 9, still three
// actions (all local activities of a task are one), and one trip through
// the worker's local-activity machinery instead of three. A cycle that
// outgrows the budget, fails, or could not be finished goes on in the
// workflow exactly as after RetrieveLocal (Retrieve, its retries,
// FinishCycle); one RunCycle could not start is started by StartCycle
// with the same key. Read once per loop and carried across
// continue-as-new (CarriedState.OneActivityCycles). Fixtures: the ones
// recorded before it moved to testdata/before-cycle-activity, and every
// one in testdata was recorded again (syncloop_local_cycle: a full sync
// handed over from RunCycle to Retrieve, then a quiet cycle).
const versionCycleActivity = "cycle-activity"
