package chaos

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// full is set by scripts/chaos.sh: the long suite. Everything else (CI's
// `make test`) runs the short version: every scenario, fewer faults.
var full = os.Getenv("SYNCLOOP_CHAOS") == "full"

// plan sizes one run of the suite.
type plan struct {
	fullSyncRecords  int           // records of the big full sync
	fullSyncKills    int           // SIGKILLs aimed at that full sync
	incrementalKills int           // SIGKILLs during incremental cycles with a writer
	incrementalMin   time.Duration // how long the incremental phase runs at least
	twoWorkerRounds  int           // kill one of two workers, check the other carries on
	twoWorkerRecords int           // records per object in that scenario
	temporalRestarts int           // restarts of the Temporal server
	postgresRestarts int           // restarts of the suite's PostgreSQL
	restartRecords   int           // records of the restart scenarios' object
	faultRecords     int           // records of the provider-fault scenario's object
	allFaultPhases   bool          // every fault kind transient, persistent mid-listing and from the start
}

func currentPlan() plan {
	if full {
		return plan{
			fullSyncRecords: 100_000, fullSyncKills: 12, incrementalKills: 12, incrementalMin: 40 * time.Second,
			twoWorkerRounds: 2, twoWorkerRecords: 5000,
			temporalRestarts: 3, postgresRestarts: 2, restartRecords: 20_000,
			faultRecords: 5000, allFaultPhases: true,
		}
	}
	return plan{
		fullSyncRecords: 5000, fullSyncKills: 3, incrementalKills: 1, incrementalMin: 5 * time.Second,
		twoWorkerRounds: 1, twoWorkerRecords: 500,
		temporalRestarts: 1, postgresRestarts: 1, restartRecords: 5000,
		faultRecords: 1500,
	}
}

// seed makes the random choices (kill moments, writer operations)
// reproducible as far as timing allows: SYNCLOOP_CHAOS_SEED reruns a run.
var seed = func() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("SYNCLOOP_CHAOS_SEED"), 10, 64); err == nil {
		return s
	}
	return uint64(time.Now().UnixNano())
}()

var (
	rngMu sync.Mutex
	rng   = rand.New(rand.NewPCG(seed, 0xc4a05))
)

// between returns a random duration in [lo, hi).
func between(lo, hi time.Duration) time.Duration {
	rngMu.Lock()
	defer rngMu.Unlock()
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// intn returns a random int in [0, n).
func intn(n int) int {
	rngMu.Lock()
	defer rngMu.Unlock()
	return rng.IntN(n)
}

// scenarioReport is one scenario's line in the report.
type scenarioReport struct {
	Name             string
	Kills            int
	TemporalRestarts int
	PostgresRestarts int
	ProviderFaults   int
	Cycles           int
	RecordsCompared  int
	Mismatches       int
	Duration         time.Duration
	Notes            []string

	mu sync.Mutex
}

func (r *scenarioReport) add(f func(r *scenarioReport)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

func (r *scenarioReport) note(format string, args ...any) {
	r.add(func(r *scenarioReport) { r.Notes = append(r.Notes, fmt.Sprintf(format, args...)) })
}

var (
	reportsMu sync.Mutex
	reports   []*scenarioReport
)

func newReport(t *testing.T, name string) *scenarioReport {
	r := &scenarioReport{Name: name}
	start := time.Now()
	reportsMu.Lock()
	reports = append(reports, r)
	reportsMu.Unlock()
	t.Cleanup(func() {
		r.add(func(r *scenarioReport) { r.Duration = time.Since(start) })
		if t.Failed() {
			r.note("test FAILED")
		}
	})
	return r
}

// summary is the report's last line.
func summary(rs []*scenarioReport) string {
	var kills, temporal, postgres, faults, records, mismatches int
	for _, r := range rs {
		kills += r.Kills
		temporal += r.TemporalRestarts
		postgres += r.PostgresRestarts
		faults += r.ProviderFaults
		records += r.RecordsCompared
		mismatches += r.Mismatches
	}
	return fmt.Sprintf("faults: %d kills, %d temporal restarts, %d postgres restarts, %d provider faults; records compared: %d; mismatches: %d",
		kills, temporal, postgres, faults, records, mismatches)
}

func writeReport(w io.Writer, rs []*scenarioReport, failed bool) {
	mode := "short"
	if full {
		mode = "full"
	}
	fmt.Fprintf(w, "\nchaos report (%s suite, seed %d)\n", mode, seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tkills\ttemporal restarts\tpostgres restarts\tprovider faults\tcycles\trecords compared\tmismatches\ttime")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Name, r.Kills, r.TemporalRestarts, r.PostgresRestarts,
			r.ProviderFaults, r.Cycles, r.RecordsCompared, r.Mismatches, r.Duration.Round(time.Second))
	}
	_ = tw.Flush()
	for _, r := range rs {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  %s: %s\n", r.Name, n)
		}
	}
	if failed {
		fmt.Fprintln(w, "result: FAILED (see the test output above)")
	}
	fmt.Fprintln(w, summary(rs))
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	teardown()
	reportsMu.Lock()
	rs := reports
	reportsMu.Unlock()
	if len(rs) > 0 {
		var b strings.Builder
		writeReport(&b, rs, code != 0)
		fmt.Print(b.String())
		if path := os.Getenv("SYNCLOOP_CHAOS_REPORT"); path != "" {
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "chaos: write report:", err)
			}
		}
	}
	os.Exit(code)
}
