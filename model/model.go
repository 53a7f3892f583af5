// Package model holds the small, dependency-free rules every layer shares:
// object keys, workflow IDs, interval bounds and cycle statuses. It is
// deterministic so workflows may use it.
package model

import (
	"fmt"
	"regexp"
	"strings"
)

// ObjectKey names one integration object: one tenant's one object type at
// one provider.
type ObjectKey struct {
	Tenant     string `json:"tenant"`
	Provider   string `json:"provider"`
	ObjectType string `json:"object_type"`
}

var keyPart = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// ParseObjectKey parses "<tenant>/<provider>/<object_type>".
func ParseObjectKey(s string) (ObjectKey, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return ObjectKey{}, fmt.Errorf("invalid object ID %q: use <tenant>/<provider>/<object_type>, e.g. acme/salesforce/accounts", s)
	}
	k := ObjectKey{Tenant: parts[0], Provider: parts[1], ObjectType: parts[2]}
	return k, k.Validate()
}

// Validate checks every part against [a-z0-9_-]{1,64}.
func (k ObjectKey) Validate() error {
	for _, p := range []struct{ name, v string }{{"tenant", k.Tenant}, {"provider", k.Provider}, {"object type", k.ObjectType}} {
		if !keyPart.MatchString(p.v) {
			return fmt.Errorf("invalid %s %q in object ID %q: each part must match [a-z0-9_-]{1,64}, e.g. acme/salesforce/accounts", p.name, p.v, k.String())
		}
	}
	return nil
}

func (k ObjectKey) String() string { return k.Tenant + "/" + k.Provider + "/" + k.ObjectType }

// WorkflowID is the stable ID of the object's SyncLoop workflow. Temporal
// refuses a second running workflow with this ID, which is what makes a
// duplicate loop impossible.
func (k ObjectKey) WorkflowID() string { return "sync/" + k.String() }

// ParseWorkflowID is the inverse of WorkflowID.
func ParseWorkflowID(id string) (ObjectKey, error) {
	rest, ok := strings.CutPrefix(id, "sync/")
	if !ok {
		return ObjectKey{}, fmt.Errorf("workflow ID %q is not a sync loop ID (sync/<tenant>/<provider>/<object_type>)", id)
	}
	return ParseObjectKey(rest)
}

// Trigger says why a cycle started.
type Trigger string

const (
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
	TriggerRestart  Trigger = "restart"
	TriggerWatcher  Trigger = "watcher"
)

// Status is a cycle's or a step's status, exactly as the seeds define them.
type Status string

const (
	StatusQueued             Status = "Queued"
	StatusProcessing         Status = "Processing"
	StatusFailed             Status = "Failed"
	StatusPartiallyCompleted Status = "Partially_Completed"
	StatusCompleted          Status = "Completed"
)

// Final reports whether a status is terminal.
func (s Status) Final() bool {
	return s == StatusFailed || s == StatusPartiallyCompleted || s == StatusCompleted
}

// CombineStatuses derives a cycle's status from its steps': Completed when
// every step completed, Failed when every step failed, otherwise
// Partially_Completed. No steps at all is Failed (nothing was done).
func CombineStatuses(steps ...Status) Status {
	if len(steps) == 0 {
		return StatusFailed
	}
	allOK, allFailed := true, true
	for _, s := range steps {
		if s != StatusCompleted {
			allOK = false
		}
		if s != StatusFailed {
			allFailed = false
		}
	}
	switch {
	case allOK:
		return StatusCompleted
	case allFailed:
		return StatusFailed
	default:
		return StatusPartiallyCompleted
	}
}
