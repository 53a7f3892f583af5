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
