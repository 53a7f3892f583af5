package activities

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/demo"
	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/internal/testenv"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// demoResolver connects every object to one demo CRM.
type demoResolver struct{ url string }

func (r demoResolver) Connector(context.Context, store.Object) (connectors.Connector, error) {
	return demo.NewConnector(r.url, "", nil), nil
}

// RunCycle, the whole quiet cycle, makes three round trips to PostgreSQL
// (the start with the object, the empty listing's one statement, the
// finish): it reads back nothing it already knows of a row it has just
// started. A cycle that wrote records still reads the row's counts, and
// they are the row's.
func TestRunCycleRoundTrips(t *testing.T) {
	base := testenv.Store(t)
	counted, counter := testenv.CountingStore(t, base)
	ctx := context.Background()
	crm := democrm.NewServer(democrm.Options{Size: 30, Seed: 3})
	hs := httptest.NewServer(crm)
	defer hs.Close()

	k := model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: "accounts"}
	if _, _, err := base.AddObject(ctx, store.NewObject{Key: k, Interval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	acts := &Activities{Store: counted, Resolver: demoResolver{hs.URL}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	run := func(key string) (CycleResult, int64) {
		t.Helper()
		before := counter.N()
		v, err := env.ExecuteLocalActivity(acts.RunCycle, CycleInput{
			Start:    StartCycleInput{Object: k, Key: key, Trigger: model.TriggerSchedule},
			MaxPages: 5, MaxDuration: 3 * time.Second,
		})
		if err != nil {
			t.Fatalf("RunCycle %s: %v", key, err)
		}
		var out CycleResult
		if err := v.Get(&out); err != nil {
			t.Fatal(err)
		}
		if out.Finished == nil || out.Finished.Cycle.Status != model.StatusCompleted {
			t.Fatalf("RunCycle %s = %+v; want a Completed cycle recorded", key, out)
		}
		return out, counter.N() - before
	}

	first, _ := run("c1")
	if !first.Start.Full || first.Finished.Cycle.Counts.New != 30 {
		t.Fatalf("first cycle: %+v; want a full listing of 30 new records", first.Finished.Cycle)
	}
	quiet, trips := run("c2")
	if quiet.Start.Full || quiet.Retrieve.Records != 0 || !quiet.Retrieve.CursorMoved || quiet.Retrieve.Counts != (model.Counts{}) {
		t.Fatalf("quiet cycle: %+v; want an incremental cycle that found nothing and kept the cursor", quiet.Retrieve)
	}
	if trips != 3 {
		t.Errorf("a quiet RunCycle made %d round trips to PostgreSQL; want 3", trips)
	}
	if c := quiet.Finished.Cycle; c.Counts != (model.Counts{}) || c.CursorAfter == nil {
		t.Fatalf("quiet cycle row: %+v; want no counts and the cursor kept", c)
	}

	// Changes: the row is read back for its counts.
	crm.Change("accounts", 2)
	changed, _ := run("c3")
	if changed.Retrieve.Counts.Changed != 2 || changed.Retrieve.Counts != changed.Finished.Cycle.Counts || changed.Retrieve.LiveRecords != 30 {
		t.Fatalf("cycle with changes: retrieve %+v, row %+v; want 2 changed, the row's counts, 30 live", changed.Retrieve, changed.Finished.Cycle.Counts)
	}
}
