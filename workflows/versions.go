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
