// Package config reads syncloop's settings from the environment, once, in
// the mains: `config.Load(os.Getenv)`. Everything below the mains takes its
// values from the Config instead of reading the environment itself.
//
// The Temporal client's settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles) are not here: the SDK's
// contrib/envconfig reads them (control.Dial).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/activities"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// The environment variables Load reads.
const (
	EnvDatabaseURL                  = "DATABASE_URL"
	EnvTaskQueue                    = "SYNCLOOP_TASK_QUEUE"
	EnvDemoURL                      = "SYNCLOOP_DEMO_URL"
	EnvSecretKey                    = secrets.EnvKey // SYNCLOOP_SECRET_KEY
	EnvWebhookURL                   = "SYNCLOOP_WEBHOOK_URL"
	EnvWebhookSecret                = "SYNCLOOP_WEBHOOK_SECRET"
	EnvWebhookKinds                 = "SYNCLOOP_WEBHOOK_KINDS"
	EnvWatcherInterval              = "SYNCLOOP_WATCHER_INTERVAL"
	EnvStallGrace                   = "SYNCLOOP_STALL_GRACE"
	EnvCycleRetention               = "SYNCLOOP_CYCLE_RETENTION"
	EnvStaleFactor                  = "SYNCLOOP_STALE_FACTOR"
	EnvMetricsAddr                  = "SYNCLOOP_METRICS_ADDR"
	EnvMaxConcurrentActivities      = "SYNCLOOP_MAX_CONCURRENT_ACTIVITIES"
	EnvTaskQueueActivitiesPerSecond = "SYNCLOOP_TASK_QUEUE_ACTIVITIES_PER_SECOND"
	EnvPageSize                     = "SYNCLOOP_PAGE_SIZE"
	EnvBatchSize                    = "SYNCLOOP_BATCH_SIZE"
	EnvWorkflowCacheSize            = "SYNCLOOP_WORKFLOW_CACHE_SIZE"
	EnvTemporalCompression          = "SYNCLOOP_TEMPORAL_COMPRESSION"
	EnvAPIAddr                      = "SYNCLOOP_API_ADDR"
	EnvAPIToken                     = "SYNCLOOP_API_TOKEN"
	EnvAPIInsecureNoAuth            = "SYNCLOOP_API_INSECURE_NO_AUTH"
	EnvDevDataDir                   = "SYNCLOOP_DEV_DATA_DIR"
	EnvDevTemporalPort              = "SYNCLOOP_DEV_TEMPORAL_PORT"
	EnvDevUIPort                    = "SYNCLOOP_DEV_UI_PORT"
	EnvDevDemoAddr                  = "SYNCLOOP_DEV_DEMO_ADDR"
)

// Defaults of the variables that have one.
const (
	DefaultDatabaseURL     = store.DefaultDatabaseURL
	DefaultTaskQueue       = workflows.DefaultTaskQueue
	DefaultDemoURL         = activities.DefaultDemoURL
	DefaultWatcherInterval = 5 * time.Minute
	DefaultMetricsAddr     = "127.0.0.1:9090"
	DefaultAPIAddr         = "127.0.0.1:8080"
	DefaultDevDataDir      = ".data"
	DefaultWebhookKinds    = "stale,recovered,failing"
	DefaultDevTemporalPort = 7233
	DefaultDevUIPort       = 8233
	DefaultDevDemoAddr     = "127.0.0.1:8090"
	// DefaultWorkflowCacheSize is the Go SDK's default sticky workflow
	// cache size (go.temporal.io/sdk/worker.SetStickyWorkflowCacheSize).
	DefaultWorkflowCacheSize = 10000

	// MetricsOff as SYNCLOOP_METRICS_ADDR turns the endpoint off.
	MetricsOff = "off"
	// MinWatcherInterval is the shortest watcher schedule interval.
	MinWatcherInterval = 10 * time.Second

	// FlagInsecureNoAuth is the command-line opt-in (`syncloop serve`,
	// `worker -dev`) to serve the REST API on a non-loopback address
	// without a token; SYNCLOOP_API_INSECURE_NO_AUTH=true is the same.
	FlagInsecureNoAuth = "insecure-no-auth"
)

// Who reads a variable (Variable.Readers).
const (
	Worker = "worker" // go run ./worker
	CLI    = "cli"    // go run ./starter: every command, serve included
	Serve  = "serve"  // syncloop serve only
	Dev    = "dev"    // go run ./worker -dev
)

// Variable describes one environment variable Load reads.
type Variable struct {
	Name    string
	Default string // "": none
	// Readers are the processes that use it: Worker, CLI, Serve, Dev.
	Readers []string
	Help    string
}

// Variables lists every environment variable Load reads, in the order of
// the README's Environment table.
func Variables() []Variable {
	return []Variable{
		{EnvDatabaseURL, DefaultDatabaseURL, []string{Worker, CLI, Dev}, "PostgreSQL (migrations run at start-up)"},
		{EnvTaskQueue, DefaultTaskQueue, []string{Worker, CLI, Dev}, "Temporal task queue"},
		{EnvDemoURL, DefaultDemoURL, []string{Worker}, "demo CRM base URL for demo objects without a connection"},
		{EnvSecretKey, "", []string{Worker, CLI, Dev}, "32-byte key (base64 or hex) encrypting connection credentials"},
		{EnvWebhookURL, "", []string{Worker, Dev}, "notification webhook"},
		{EnvWebhookSecret, "", []string{Worker, Dev}, "the webhook's HMAC key"},
		{EnvWebhookKinds, DefaultWebhookKinds, []string{Worker, Dev}, "notification kinds posted to the webhook (add cycle.completed for one per cycle)"},
		{EnvWatcherInterval, DefaultWatcherInterval.String(), []string{Worker, Dev}, "watcher schedule interval"},
		{EnvStallGrace, "10m", []string{Worker, Dev}, "how long past its interval a loop may go without a cycle before it is flagged"},
		{EnvCycleRetention, "100", []string{Worker, Dev}, "cycles kept per object"},
		{EnvStaleFactor, "3", []string{Worker, Dev}, "an object is stale after this many intervals without a successful cycle"},
		{EnvMetricsAddr, DefaultMetricsAddr, []string{Worker, Dev}, "Prometheus /metrics listen address (off disables it)"},
		{EnvMaxConcurrentActivities, "0", []string{Worker, Dev}, "activities a worker runs at once (0: the SDK's default)"},
		{EnvTaskQueueActivitiesPerSecond, "0", []string{Worker, Dev}, "activities started per second on the task queue (0: unlimited)"},
		{EnvPageSize, "0", []string{Worker, Dev}, "records asked per provider page (0: 1000)"},
		{EnvBatchSize, "0", []string{Worker, Dev}, "records written per transaction (0: 10000)"},
		{EnvWorkflowCacheSize, strconv.Itoa(DefaultWorkflowCacheSize), []string{Worker, Dev}, "workflow runs a worker keeps in memory (the SDK's sticky cache; 0: the default); a loop not in it replays its whole run history at its next task"},
		{EnvTemporalCompression, CompressionAuto, []string{Worker, Dev}, "gRPC compression of the Temporal connection: auto (gzip unless TEMPORAL_ADDRESS is a loopback address), gzip or none"},
		{EnvAPIAddr, DefaultAPIAddr, []string{Serve, Dev}, "REST API listen address"},
		{EnvAPIToken, "", []string{Serve, Dev}, "REST API bearer token (empty: no authentication, allowed on a loopback address only)"},
		{EnvAPIInsecureNoAuth, "false", []string{Serve, Dev}, "true: serve the REST API without a token on a non-loopback address (as --insecure-no-auth)"},
		{EnvDevDataDir, DefaultDevDataDir, []string{Dev}, "the local stack's data directory"},
		{EnvDevTemporalPort, strconv.Itoa(DefaultDevTemporalPort), []string{Dev}, "the embedded Temporal frontend's port"},
		{EnvDevUIPort, strconv.Itoa(DefaultDevUIPort), []string{Dev}, "the Temporal Web UI's port"},
		{EnvDevDemoAddr, DefaultDevDemoAddr, []string{Dev}, "the demo CRM's listen address"},
	}
}

// Config is every setting the worker, the CLI, `serve` and `-dev` read
// from the environment. Load fills it; tests build one by hand (start
// from Default()).
type Config struct {
	// DatabaseURL is PostgreSQL (DATABASE_URL; default DefaultDatabaseURL).
	DatabaseURL string
	// TaskQueue is the Temporal task queue (SYNCLOOP_TASK_QUEUE).
	TaskQueue string
	// DemoURL is the demo CRM for demo objects without a connection
	// (SYNCLOOP_DEMO_URL).
	DemoURL string
	// SecretKey is SYNCLOOP_SECRET_KEY as given ("": none); Load checks
	// that it parses. Build the box with secrets.FromKey.
	SecretKey string
	// WebhookURL and WebhookSecret configure notifications.
	WebhookURL    string
	WebhookSecret string
	// WebhookKinds are the notification kinds posted to the webhook
	// (SYNCLOOP_WEBHOOK_KINDS, default stale, recovered, failing).
	WebhookKinds []string

	// WatcherInterval is the watcher schedule's interval
	// (SYNCLOOP_WATCHER_INTERVAL, default 5m).
	WatcherInterval time.Duration
	// Watcher holds SYNCLOOP_STALL_GRACE, SYNCLOOP_CYCLE_RETENTION and
	// SYNCLOOP_STALE_FACTOR; zero fields mean the watcher's defaults
	// (10m, 100, 3).
	Watcher workflows.WatcherOptions

	// MetricsAddr is where /metrics is served (SYNCLOOP_METRICS_ADDR,
	// default 127.0.0.1:9090; MetricsOff: nowhere). MetricsAddrSet says the
	// variable was set: then a busy address is an error, while a busy
	// default only skips the endpoint (a second worker on the host).
	MetricsAddr    string
	MetricsAddrSet bool

	// Worker tuning; 0 means the default.
	MaxConcurrentActivities      int
	TaskQueueActivitiesPerSecond float64
	PageSize                     int
	BatchSize                    int
	// WorkflowCacheSize is the SDK's sticky workflow cache size
	// (SYNCLOOP_WORKFLOW_CACHE_SIZE, default 10000; 0 means the default):
	// how many loops one worker process holds in memory. The worker
	// applies it with worker.SetStickyWorkflowCacheSize before it starts.
	WorkflowCacheSize int
	// TemporalCompression is the worker's gRPC compression to Temporal
	// (SYNCLOOP_TEMPORAL_COMPRESSION): CompressionAuto, CompressionGzip
	// or CompressionNone; control.DialOptions applies it.
	TemporalCompression string

	// APIAddr is the REST API's listen address (SYNCLOOP_API_ADDR,
	// default 127.0.0.1:8080); APIAddrSet says the variable was set.
	// APIToken is its bearer token ("": no authentication, which
	// CheckAPIAuth allows on a loopback address only, unless
	// APIInsecureNoAuth, SYNCLOOP_API_INSECURE_NO_AUTH=true, opts in).
	APIAddr           string
	APIAddrSet        bool
	APIToken          string
	APIInsecureNoAuth bool

	// Dev holds the settings only `worker -dev` reads.
	Dev DevSettings
}

// DevSettings are the local stack's part of the Config.
type DevSettings struct {
	DataDir      string // SYNCLOOP_DEV_DATA_DIR (default .data)
	TemporalPort int    // SYNCLOOP_DEV_TEMPORAL_PORT (default 7233)
	UIPort       int    // SYNCLOOP_DEV_UI_PORT (default 8233)
	DemoAddr     string // SYNCLOOP_DEV_DEMO_ADDR (default 127.0.0.1:8090)
}

// Default is the Config of an empty environment.
func Default() Config {
	return Config{
		DatabaseURL:         DefaultDatabaseURL,
		TaskQueue:           DefaultTaskQueue,
		DemoURL:             DefaultDemoURL,
		WatcherInterval:     DefaultWatcherInterval,
		MetricsAddr:         DefaultMetricsAddr,
		APIAddr:             DefaultAPIAddr,
		WorkflowCacheSize:   DefaultWorkflowCacheSize,
		TemporalCompression: CompressionAuto,
		WebhookKinds:        []string{activities.KindStale, activities.KindRecovered, activities.KindFailing},
		Dev: DevSettings{
			DataDir: DefaultDevDataDir, TemporalPort: DefaultDevTemporalPort,
			UIPort: DefaultDevUIPort, DemoAddr: DefaultDevDemoAddr,
		},
	}
}

// Error is one bad variable: its name, its value and how to fix it.
type Error struct {
	Var   string
	Value string
	Fix   string
}

func (e *Error) Error() string {
	if e.Var == EnvSecretKey || e.Var == EnvWebhookSecret || e.Var == EnvAPIToken {
		// Never echo a secret.
		return fmt.Sprintf("%s is not valid: %s", e.Var, e.Fix)
	}
	if e.Var == EnvDatabaseURL || e.Var == EnvWebhookURL || e.Var == EnvDemoURL {
		return fmt.Sprintf("%s=%q: %s", e.Var, store.Redact(e.Value), e.Fix)
	}
	return fmt.Sprintf("%s=%q: %s", e.Var, e.Value, e.Fix)
}

// Load reads the environment through getenv (os.Getenv in the mains; an
// unset and an empty variable are the same). It returns the Config with
// every valid setting filled in (bad ones keep their defaults) and, if
// any variable is bad, an error joining one *Error per bad variable,
// each on a line of its own.
func Load(getenv func(string) string) (Config, error) {
	c := Default()
	l := loader{getenv: getenv}
	l.str(EnvDatabaseURL, &c.DatabaseURL)
	l.str(EnvTaskQueue, &c.TaskQueue)
	if l.str(EnvDemoURL, &c.DemoURL) && !l.httpURL(EnvDemoURL, c.DemoURL, "e.g. http://127.0.0.1:8090") {
		c.DemoURL = DefaultDemoURL
	}
	if l.str(EnvSecretKey, &c.SecretKey) {
		if _, err := secrets.ParseKey(c.SecretKey); err != nil {
			l.fail(EnvSecretKey, "", "want 32 random bytes as base64 or 64 hex digits; generate one with `openssl rand -base64 32`")
			c.SecretKey = ""
		}
	}
	if l.str(EnvWebhookURL, &c.WebhookURL) {
		if !l.httpURL(EnvWebhookURL, c.WebhookURL, "e.g. https://hooks.example.com/syncloop, or unset it for no webhook") {
			c.WebhookURL = ""
		}
	}
	l.str(EnvWebhookSecret, &c.WebhookSecret)
	var kinds string
	if l.str(EnvWebhookKinds, &kinds) {
		parsed := []string{} // none listed: none posted (nil would mean all)
		bad := false
		for _, k := range strings.Split(kinds, ",") {
			k = strings.TrimSpace(k)
			switch {
			case k == "":
			case !slices.Contains(activities.Kinds, k):
				bad = true
			case !slices.Contains(parsed, k):
				parsed = append(parsed, k)
			}
		}
		if bad {
			// The default stays: a typo must not silence notifications.
			l.fail(EnvWebhookKinds, kinds, "want a comma-separated list of "+strings.Join(activities.Kinds, ", "))
		} else {
			c.WebhookKinds = parsed
		}
	}

	l.duration(EnvWatcherInterval, &c.WatcherInterval, MinWatcherInterval, "5m")
	l.duration(EnvStallGrace, &c.Watcher.Grace, time.Nanosecond, "10m")
	number(&l, EnvCycleRetention, &c.Watcher.Retention, 1, "100")
	number(&l, EnvStaleFactor, &c.Watcher.StaleFactor, 1, "3")

	if l.str(EnvMetricsAddr, &c.MetricsAddr) {
		c.MetricsAddrSet = true
		if c.MetricsAddr != MetricsOff && !l.listenAddr(EnvMetricsAddr, c.MetricsAddr, "use host:port or :port (e.g. :9090), or off") {
			c.MetricsAddr, c.MetricsAddrSet = DefaultMetricsAddr, false
		}
	}
	number(&l, EnvMaxConcurrentActivities, &c.MaxConcurrentActivities, 0, "0 for the SDK's default")
	number(&l, EnvTaskQueueActivitiesPerSecond, &c.TaskQueueActivitiesPerSecond, 0, "0 for unlimited")
	number(&l, EnvPageSize, &c.PageSize, 0, "1000")
	number(&l, EnvBatchSize, &c.BatchSize, 0, "10000")
	number(&l, EnvWorkflowCacheSize, &c.WorkflowCacheSize, 0, "10000 (the SDK default; 0 is the same), or at least the loops one worker runs")
	if c.WorkflowCacheSize == 0 {
		c.WorkflowCacheSize = DefaultWorkflowCacheSize
	}

	if v, err := TemporalCompression(l.getenv); err != nil {
		l.errs = append(l.errs, err)
	} else {
		c.TemporalCompression = v
	}

	if l.str(EnvAPIAddr, &c.APIAddr) {
		c.APIAddrSet = true
		if !l.listenAddr(EnvAPIAddr, c.APIAddr, "use host:port or :port, e.g. :8080 or 127.0.0.1:8080") {
			c.APIAddr, c.APIAddrSet = DefaultAPIAddr, false
		}
	}
	l.str(EnvAPIToken, &c.APIToken)
	var insecure string
	if l.str(EnvAPIInsecureNoAuth, &insecure) {
		b, err := strconv.ParseBool(insecure)
		if err != nil {
			l.fail(EnvAPIInsecureNoAuth, insecure, "want true or false")
		}
		c.APIInsecureNoAuth = b
	}

	l.str(EnvDevDataDir, &c.Dev.DataDir)
	l.port(EnvDevTemporalPort, &c.Dev.TemporalPort)
	l.port(EnvDevUIPort, &c.Dev.UIPort)
	if l.str(EnvDevDemoAddr, &c.Dev.DemoAddr) && !l.listenAddr(EnvDevDemoAddr, c.Dev.DemoAddr, "use host:port or :port, e.g. 127.0.0.1:8090") {
		c.Dev.DemoAddr = DefaultDevDemoAddr
	}
	return c, errors.Join(l.errs...)
}

type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) fail(name, value, fix string) {
	l.errs = append(l.errs, &Error{Var: name, Value: value, Fix: fix})
}

// str sets *into to the variable's value when it is set, and reports
// whether it was.
func (l *loader) str(name string, into *string) bool {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return false
	}
	*into = v
	return true
}

func (l *loader) duration(name string, into *time.Duration, least time.Duration, example string) {
	var v string
	if !l.str(name, &v) {
		return
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil || d <= 0:
		l.fail(name, v, "want a positive duration, e.g. "+example)
	case d < least:
		l.fail(name, v, fmt.Sprintf("want at least %s, e.g. %s", least, example))
	default:
		*into = d
	}
}

func number[T int | float64](l *loader, name string, into *T, least T, example string) {
	var v string
	if !l.str(name, &v) {
		return
	}
	var n T
	var err error
	switch p := any(&n).(type) {
	case *int:
		*p, err = strconv.Atoi(v)
	case *float64:
		*p, err = strconv.ParseFloat(v, 64)
	}
	if err != nil || n < least {
		kind := "a whole number"
		if _, ok := any(n).(float64); ok {
			kind = "a number"
		}
		l.fail(name, v, fmt.Sprintf("want %s of at least %v, e.g. %s", kind, least, example))
		return
	}
	*into = n
}

func (l *loader) port(name string, into *int) {
	var v string
	if !l.str(name, &v) {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		l.fail(name, v, "want a port number (1-65535)")
		return
	}
	*into = n
}

// listenAddr checks host:port syntax the way net.Listen needs it.
func (l *loader) listenAddr(name, v, fix string) bool {
	if err := CheckListenAddr(v); err != nil {
		l.fail(name, v, err.Error()+"; "+fix)
		return false
	}
	return true
}

// CheckListenAddr reports whether addr is host:port or :port with a port
// from 0 to 65535.
func CheckListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not host:port or :port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// IsLoopbackHost reports whether host (a name or an IP, brackets
// allowed) is the local machine only: localhost, 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.EqualFold(host, "localhost.") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackListen reports whether a listen address (host:port) accepts
// connections from the local machine only. ":port", 0.0.0.0 and :: are
// every interface; any other host name counts as reachable from outside.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && IsLoopbackHost(host)
}

// CheckAPIAuth refuses to serve the REST API on a non-loopback address
// without a bearer token, unless insecure (--insecure-no-auth or
// SYNCLOOP_API_INSECURE_NO_AUTH=true) says so. The error is one line
// naming the fixes.
func CheckAPIAuth(addr, token string, insecure bool) error {
	if token != "" || insecure || IsLoopbackListen(addr) {
		return nil
	}
	return fmt.Errorf("refusing to serve the REST API on %s without authentication: set %s, listen on a loopback address (e.g. %s), or opt out with --%s (%s=true)",
		addr, EnvAPIToken, DefaultAPIAddr, FlagInsecureNoAuth, EnvAPIInsecureNoAuth)
}

// Warnings are the settings that work but deserve a line in the log at
// start: a webhook without a signing secret, and /metrics on every
// interface (or on another non-loopback address).
func (c Config) Warnings() []string {
	var w []string
	if c.WebhookURL != "" && c.WebhookSecret == "" {
		w = append(w, EnvWebhookURL+" is set without "+EnvWebhookSecret+": notifications are sent unsigned and receivers cannot tell them from forgeries; set a secret")
	}
	if c.MetricsAddr != "" && c.MetricsAddr != MetricsOff && !IsLoopbackListen(c.MetricsAddr) {
		w = append(w, EnvMetricsAddr+"="+c.MetricsAddr+" serves /metrics, unauthenticated, beyond this machine; use "+DefaultMetricsAddr+" unless only trusted hosts can reach it")
	}
	return w
}

func (l *loader) httpURL(name, v, example string) bool {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.fail(name, v, "want an http(s) URL, "+example)
		return false
	}
	return true
}

// The values of SYNCLOOP_TEMPORAL_COMPRESSION.
const (
	// CompressionAuto compresses with gzip (the SDK's default) unless the
	// Temporal frontend is on this machine: on a loopback connection
	// there is no bandwidth to save, and gzip costs both ends CPU on
	// every call (at 1,000 quiet loops, about 8% of the worker's CPU:
	// BENCHMARKS.md).
	CompressionAuto = "auto"
	CompressionGzip = "gzip"
	CompressionNone = "none"
)

// TemporalCompression reads SYNCLOOP_TEMPORAL_COMPRESSION: auto (also
// when unset), gzip or none.
func TemporalCompression(getenv func(string) string) (string, error) {
	v := strings.ToLower(strings.TrimSpace(getenv(EnvTemporalCompression)))
	switch v {
	case "":
		return CompressionAuto, nil
	case CompressionAuto, CompressionGzip, CompressionNone:
		return v, nil
	}
	return "", &Error{Var: EnvTemporalCompression, Value: v, Fix: "want auto (gzip unless TEMPORAL_ADDRESS is a loopback address), gzip or none"}
}
