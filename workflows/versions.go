package workflows

// Workflow versions (docs/ARCHITECTURE.md, "Versioning").
//
// A change that alters the commands SyncLoop or Watcher issue declares
// its change ID here, one constant each with a comment saying what it
// changed, and reads it with workflow.GetVersion; histories recorded
// before it replay the old branch. The first release has no versioned
// changes: the fixtures in testdata are its behaviour.
//
// Example for the next change:
//
//	// versionQuietCycle (2027-01): a quiet cycle runs as local activities.
//	const versionQuietCycle = "quiet-cycle"
