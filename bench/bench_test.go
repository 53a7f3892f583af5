package main

import (
	"strings"
	"testing"
	"time"
)

func TestKeptTail(t *testing.T) {
	if got := keptTail("# Benchmarks\n\n| a |\n"); got != "" {
		t.Errorf("no marker: kept %q", got)
	}
	file := "# Benchmarks\n\nold figures\n\n" + handWrittenMarker + "\n\n## Fault injection\n\nby hand\n"
	got := keptTail(file)
	if !strings.HasPrefix(got, "\n"+handWrittenMarker) || !strings.HasSuffix(got, "## Fault injection\n\nby hand\n") || strings.Contains(got, "old figures") {
		t.Errorf("kept %q", got)
	}
	// A second run keeps exactly the same tail.
	if again := keptTail("# Benchmarks\n\nnew figures\n" + got); again != got {
		t.Errorf("second run kept %q, first %q", again, got)
	}
}

func TestParsePromLine(t *testing.T) {
	s, ok := parsePromLine(`action{action_type="command_StartTimer",namespace="default",operation="RespondWorkflowTaskCompleted",service_name="frontend"} 12`)
	if !ok || s.name != "action" || s.value != 12 || s.labels["action_type"] != "command_StartTimer" || s.labels["namespace"] != "default" {
		t.Errorf("got %+v, %v", s, ok)
	}
	s, ok = parsePromLine(`temporal_temporal_sticky_cache_miss_total{a="x\"y",b="z"} 3 1700000000`)
	if !ok || s.name != "temporal_temporal_sticky_cache_miss_total" || s.value != 3 || s.labels["a"] != `x"y` || s.labels["b"] != "z" {
		t.Errorf("got %+v, %v", s, ok)
	}
	if s, ok = parsePromLine(`go_goroutines 42`); !ok || s.name != "go_goroutines" || s.value != 42 {
		t.Errorf("got %+v, %v", s, ok)
	}
	for _, bad := range []string{"", "# HELP action x", `action{action_type="x" 1`, "action"} {
		if _, ok := parsePromLine(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
	if got := promSanitize("temporal-system"); got != "temporal_system" {
		t.Errorf("promSanitize: %q", got)
	}
}

func TestParseOversub(t *testing.T) {
	s, err := parseOversub("5000:500@5m")
	if err != nil || s.loops != 5000 || s.cache != 500 || s.interval != 5*time.Minute {
		t.Errorf("got %+v, %v", s, err)
	}
	if s, err = parseOversub("300:30"); err != nil || s.interval != time.Minute {
		t.Errorf("got %+v, %v", s, err)
	}
	for _, bad := range []string{"300", "30:300", "300:0", "x:1", "300:30@1s"} {
		if _, err := parseOversub(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestScheduleSizesAndWatcherCounts(t *testing.T) {
	got := scheduleSizes("100, 1000@2m,5000@5m/postgres")
	want := []scheduleSize{{objects: 100, interval: time.Minute}, {objects: 1000, interval: 2 * time.Minute}, {objects: 5000, interval: 5 * time.Minute, only: backendPostgres}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("size %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	w := watcherCounts("1000,100000/postgres")
	if len(w) != 2 || w[0] != (watcherCount{objects: 1000}) || w[1] != (watcherCount{objects: 100000, only: backendPostgres}) {
		t.Errorf("watcher counts %+v", w)
	}
}
