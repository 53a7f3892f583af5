package config_test

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/workflows"
)

func env(kv map[string]string) func(string) string {
	return func(name string) string { return kv[name] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		DatabaseURL:         "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		TaskQueue:           "syncloop",
		DemoURL:             "http://127.0.0.1:8090",
		WatcherInterval:     5 * time.Minute,
		MetricsAddr:         "127.0.0.1:9090",
		APIAddr:             "127.0.0.1:8080",
		WorkflowCacheSize:   10000,
		TemporalCompression: "auto",
		WebhookKinds:        []string{"stale", "recovered", "failing"},
		Dev:                 config.DevSettings{DataDir: ".data", TemporalPort: 7233, UIPort: 8233, DemoAddr: "127.0.0.1:8090"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Fatalf("Load of an empty environment differs from Default()")
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	c, err := config.Load(env(map[string]string{
		"DATABASE_URL":                              "postgres://u@db:5432/x",
		"SYNCLOOP_TASK_QUEUE":                       "q1",
		"SYNCLOOP_DEMO_URL":                         "http://democrm:8090",
		"SYNCLOOP_SECRET_KEY":                       key,
		"SYNCLOOP_WEBHOOK_URL":                      "https://hooks.example.com/x",
		"SYNCLOOP_WEBHOOK_SECRET":                   "s3",
		"SYNCLOOP_WEBHOOK_KINDS":                    "failing, cycle.completed,failing",
		"SYNCLOOP_WATCHER_INTERVAL":                 "1m",
		"SYNCLOOP_STALL_GRACE":                      "30s",
		"SYNCLOOP_CYCLE_RETENTION":                  "7",
		"SYNCLOOP_STALE_FACTOR":                     "2",
		"SYNCLOOP_METRICS_ADDR":                     "off",
		"SYNCLOOP_MAX_CONCURRENT_ACTIVITIES":        "4",
		"SYNCLOOP_TASK_QUEUE_ACTIVITIES_PER_SECOND": "2.5",
		"SYNCLOOP_PAGE_SIZE":                        "200",
		"SYNCLOOP_BATCH_SIZE":                       "400",
		"SYNCLOOP_WORKFLOW_CACHE_SIZE":              "500",
		"SYNCLOOP_TEMPORAL_COMPRESSION":             "GZIP",
		"SYNCLOOP_API_ADDR":                         "127.0.0.1:9999",
		"SYNCLOOP_API_TOKEN":                        "tok",
		"SYNCLOOP_API_INSECURE_NO_AUTH":             "true",
		"SYNCLOOP_DEV_DATA_DIR":                     "/tmp/d",
		"SYNCLOOP_DEV_TEMPORAL_PORT":                "17233",
		"SYNCLOOP_DEV_UI_PORT":                      "18233",
		"SYNCLOOP_DEV_DEMO_ADDR":                    ":18090",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		DatabaseURL: "postgres://u@db:5432/x", TaskQueue: "q1", DemoURL: "http://democrm:8090", SecretKey: key,
		WebhookURL: "https://hooks.example.com/x", WebhookSecret: "s3", WebhookKinds: []string{"failing", "cycle.completed"},
		WatcherInterval: time.Minute, Watcher: workflows.WatcherOptions{Grace: 30 * time.Second, Retention: 7, StaleFactor: 2},
		MetricsAddr: "off", MetricsAddrSet: true,
		MaxConcurrentActivities: 4, TaskQueueActivitiesPerSecond: 2.5, PageSize: 200, BatchSize: 400, WorkflowCacheSize: 500, TemporalCompression: "gzip",
		APIAddr: "127.0.0.1:9999", APIAddrSet: true, APIToken: "tok", APIInsecureNoAuth: true,
		Dev: config.DevSettings{DataDir: "/tmp/d", TemporalPort: 17233, UIPort: 18233, DemoAddr: ":18090"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	// Every variable Load reads is listed by Variables.
	listed := map[string]bool{}
	for _, v := range config.Variables() {
		listed[v.Name] = true
	}
	for _, v := range []string{"DATABASE_URL", "SYNCLOOP_DEV_DEMO_ADDR", "SYNCLOOP_BATCH_SIZE", "SYNCLOOP_WORKFLOW_CACHE_SIZE", "SYNCLOOP_WEBHOOK_KINDS"} {
		if !listed[v] {
			t.Errorf("Variables() does not list %s", v)
		}
	}
	if len(listed) != 25 {
		t.Errorf("Variables() lists %d variables, Load reads 25", len(listed))
	}
}

func TestLoadBadVariable(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"SYNCLOOP_DEMO_URL", "democrm:8090", "http(s) URL"},
		{"SYNCLOOP_SECRET_KEY", "too-short", "openssl rand -base64 32"},
		{"SYNCLOOP_WEBHOOK_URL", "ftp://x", "http(s) URL"},
		{"SYNCLOOP_WEBHOOK_KINDS", "stale,cycle.done", "comma-separated list of stale, recovered, failing, cycle.completed"},
		{"SYNCLOOP_WATCHER_INTERVAL", "5", "positive duration"},
		{"SYNCLOOP_WATCHER_INTERVAL", "1s", "at least 10s"},
		{"SYNCLOOP_STALL_GRACE", "-1m", "positive duration"},
		{"SYNCLOOP_CYCLE_RETENTION", "0", "at least 1"},
		{"SYNCLOOP_STALE_FACTOR", "x", "whole number"},
		{"SYNCLOOP_METRICS_ADDR", "9090", "host:port"},
		{"SYNCLOOP_MAX_CONCURRENT_ACTIVITIES", "-1", "at least 0"},
		{"SYNCLOOP_TASK_QUEUE_ACTIVITIES_PER_SECOND", "fast", "a number of at least 0"},
		{"SYNCLOOP_PAGE_SIZE", "1.5", "whole number"},
		{"SYNCLOOP_BATCH_SIZE", "-5", "at least 0"},
		{"SYNCLOOP_WORKFLOW_CACHE_SIZE", "-1", "at least 0"},
		{"SYNCLOOP_WORKFLOW_CACHE_SIZE", "1e4", "whole number"},
		{"SYNCLOOP_API_ADDR", "localhost", "host:port"},
		{"SYNCLOOP_API_ADDR", ":99999", "0 to 65535"},
		{"SYNCLOOP_DEV_TEMPORAL_PORT", "0", "port number"},
		{"SYNCLOOP_DEV_UI_PORT", "http", "port number"},
		{"SYNCLOOP_DEV_DEMO_ADDR", "8090", "host:port"},
		{"SYNCLOOP_TEMPORAL_COMPRESSION", "zstd", "auto (gzip unless TEMPORAL_ADDRESS is a loopback address), gzip or none"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			c, err := config.Load(env(map[string]string{tc.name: tc.value}))
			if err == nil {
				t.Fatalf("Load accepted %s=%q", tc.name, tc.value)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("one bad variable, several lines: %q", msg)
			}
			if !strings.HasPrefix(msg, tc.name) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name %s and say %q", msg, tc.name, tc.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Var != tc.name {
				t.Errorf("error %v is not a *config.Error for %s", err, tc.name)
			}
			if tc.name == "SYNCLOOP_SECRET_KEY" && strings.Contains(msg, tc.value) {
				t.Errorf("error %q repeats the secret", msg)
			}
			// The bad value is not taken: the rest of the Config is usable.
			if !reflect.DeepEqual(c, config.Default()) {
				t.Errorf("a bad %s changed the Config: %+v", tc.name, c)
			}
		})
	}
}

func TestLoadReportsEveryBadVariable(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"SYNCLOOP_PAGE_SIZE":        "lots",
		"SYNCLOOP_WATCHER_INTERVAL": "soon",
		"SYNCLOOP_DEV_UI_PORT":      "70000",
		"SYNCLOOP_TASK_QUEUE":       "good-queue",
		"SYNCLOOP_WEBHOOK_URL":      "not a url",
		"SYNCLOOP_BATCH_SIZE":       "50",
	}))
	if err == nil {
		t.Fatal("Load accepted four bad variables")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 4 {
		t.Fatalf("want one line per bad variable (4), got %d: %q", len(lines), lines)
	}
	for i, name := range []string{"SYNCLOOP_WEBHOOK_URL", "SYNCLOOP_WATCHER_INTERVAL", "SYNCLOOP_PAGE_SIZE", "SYNCLOOP_DEV_UI_PORT"} {
		if !strings.HasPrefix(lines[i], name) {
			t.Errorf("line %d is %q, want it to name %s", i+1, lines[i], name)
		}
	}
	if c.TaskQueue != "good-queue" || c.BatchSize != 50 {
		t.Errorf("the good variables were not read: %+v", c)
	}
}

func TestLoadTrimsAndTreatsEmptyAsUnset(t *testing.T) {
	c, err := config.Load(env(map[string]string{"SYNCLOOP_TASK_QUEUE": "  q  ", "SYNCLOOP_METRICS_ADDR": "", "SYNCLOOP_API_ADDR": " "}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TaskQueue != "q" || c.MetricsAddr != config.DefaultMetricsAddr || c.MetricsAddrSet || c.APIAddr != config.DefaultAPIAddr || c.APIAddrSet {
		t.Fatalf("got %+v", c)
	}
}

func TestAPIAndMetricsDefaultToLoopback(t *testing.T) {
	c := config.Default()
	for _, a := range []string{c.APIAddr, c.MetricsAddr} {
		if !config.IsLoopbackListen(a) {
			t.Errorf("default listen address %q is not loopback", a)
		}
	}
}

func TestIsLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.9.9.9:1": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.1:8080": false, "api.example.com:8080": false,
		"not an address": false,
	} {
		if got := config.IsLoopbackListen(addr); got != want {
			t.Errorf("IsLoopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
	for host, want := range map[string]bool{"127.0.0.1": true, "::1": true, "[::1]": true, "localhost": true, "example.com": false, "192.168.1.2": false} {
		if got := config.IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestCheckAPIAuthRefusesOpenNonLoopback(t *testing.T) {
	for _, ok := range []struct {
		addr, token string
		insecure    bool
	}{
		{"127.0.0.1:8080", "", false}, {"[::1]:0", "", false}, {"localhost:8080", "", false},
		{":8080", "tok", false}, {"0.0.0.0:8080", "", true},
	} {
		if err := config.CheckAPIAuth(ok.addr, ok.token, ok.insecure); err != nil {
			t.Errorf("CheckAPIAuth(%q, token %v, insecure %v): %v", ok.addr, ok.token != "", ok.insecure, err)
		}
	}
	for _, addr := range []string{":8080", "0.0.0.0:8080", "[::]:8080", "10.1.2.3:8080"} {
		err := config.CheckAPIAuth(addr, "", false)
		if err == nil {
			t.Fatalf("CheckAPIAuth(%q) without a token: no error", addr)
		}
		msg := err.Error()
		for _, want := range []string{"SYNCLOOP_API_TOKEN", "--insecure-no-auth", "SYNCLOOP_API_INSECURE_NO_AUTH=true", "127.0.0.1:8080"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %s", msg, want)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("error is not one line: %q", msg)
		}
	}
}

func TestLoadInsecureNoAuth(t *testing.T) {
	c, err := config.Load(env(map[string]string{"SYNCLOOP_API_INSECURE_NO_AUTH": "1"}))
	if err != nil || !c.APIInsecureNoAuth {
		t.Fatalf("=1: %v, insecure %v", err, c.APIInsecureNoAuth)
	}
	if _, err := config.Load(env(map[string]string{"SYNCLOOP_API_INSECURE_NO_AUTH": "maybe"})); err == nil || !strings.Contains(err.Error(), "SYNCLOOP_API_INSECURE_NO_AUTH") {
		t.Fatalf("a bad value: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	c := config.Default()
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("defaults warn: %q", w)
	}
	c.WebhookURL = "https://hooks.example.com/x"
	c.MetricsAddr = ":9090"
	w := c.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], "SYNCLOOP_WEBHOOK_SECRET") || !strings.Contains(w[1], "SYNCLOOP_METRICS_ADDR=:9090") {
		t.Fatalf("warnings %q", w)
	}
	c.WebhookSecret, c.MetricsAddr = "s", config.MetricsOff
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("a signed webhook and no metrics warn: %q", w)
	}
}

func TestWorkflowCacheSizeZeroIsTheDefault(t *testing.T) {
	c, err := config.Load(env(map[string]string{"SYNCLOOP_WORKFLOW_CACHE_SIZE": "0"}))
	if err != nil || c.WorkflowCacheSize != config.DefaultWorkflowCacheSize {
		t.Fatalf("SYNCLOOP_WORKFLOW_CACHE_SIZE=0: got %d, %v; want the default %d", c.WorkflowCacheSize, err, config.DefaultWorkflowCacheSize)
	}
}
