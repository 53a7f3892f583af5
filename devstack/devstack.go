// Package devstack runs syncloop's whole local stack in one process: an
// embedded Temporal server persisted in SQLite, the Temporal Web UI, the
// syncloop worker and watcher schedule, the REST API and the demo CRM,
// against a PostgreSQL database. `go run ./worker -dev` uses it, and tests
// start it in-process on free ports.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/syncloop/syncloop/api"
	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/internal/wiring"
	"github.com/syncloop/syncloop/metrics"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

// Defaults of `go run ./worker -dev`.
const (
	DefaultDataDir      = config.DefaultDevDataDir
	DefaultTemporalPort = config.DefaultDevTemporalPort
	DefaultUIPort       = config.DefaultDevUIPort
	DefaultAPIAddr      = config.DefaultAPIAddr
	DefaultDemoAddr     = config.DefaultDevDemoAddr
	DefaultNamespace    = "default"
	DefaultDemoSize     = 300
	DemoTenant          = "demo"
)

// Config configures a Stack. The zero value is usable: free ports, the
// data directory .data, the default database (store.DefaultDatabaseURL),
// no churn. FromConfig fills one from the environment's config.Config.
type Config struct {
	// DataDir holds the Temporal server's SQLite file (temporal.db); it is
	// created if missing. Default .data.
	DataDir string
	// TemporalPort is the frontend's gRPC port on 127.0.0.1; 0 picks a
	// free one.
	TemporalPort int
	// UIPort is the Web UI's HTTP port on 127.0.0.1; 0 picks a free one.
	UIPort int
	// APIAddr is the REST API's listen address; "" means 127.0.0.1:0.
	APIAddr string
	// DemoAddr is the demo CRM's listen address; "" means 127.0.0.1:0.
	DemoAddr string
	// MetricsAddr is where the worker's /metrics is served; "" means
	// 127.0.0.1:0, "off" nowhere. With MetricsOptional a busy address only
	// logs a warning (the worker's default, 127.0.0.1:9090, may be taken by a
	// worker running on the same host).
	MetricsAddr     string
	MetricsOptional bool
	// DatabaseURL is PostgreSQL; "" means store.DefaultDatabaseURL.
	DatabaseURL string
	// Namespace is registered in the embedded server; default "default".
	Namespace string
	// TaskQueue of the worker; "" means "syncloop".
	TaskQueue string
	// SecretKey (SYNCLOOP_SECRET_KEY) decrypts stored connection
	// credentials; "" means none (only connections without a secret work).
	SecretKey string

	// Logger receives the stack's logs; nil means slog.Default().
	Logger *slog.Logger
	// TemporalLogLevel is the lowest level of the Temporal server's and
	// the SDK's own logs that are passed on to Logger; nil means WARN
	// (both are chatty at INFO).
	TemporalLogLevel slog.Leveler

	// Demo seeds the demo CRM. Size 0 means DefaultDemoSize records per
	// object type, negative none. The CRM lives in memory: the same Seed
	// and clock give the same records. A nil Now uses a clock whose first
	// reading is saved in DataDir, so restarts re-create the same seeded
	// records (changes made by churn are not kept).
	Demo democrm.Options
	// ChurnEvery and ChurnRecords mutate that many random demo records
	// at that period, so syncs have work; zero turns churn off.
	ChurnEvery   time.Duration
	ChurnRecords int

	// Objects are added (through control.Service.Add) when the database
	// has no object yet; nil means DefaultObjects. SkipSeed adds none.
	Objects  []control.AddRequest
	SkipSeed bool

	// LoopOptions are given to the loops the stack starts (tests shorten
	// retries and heartbeats); zero means the defaults.
	LoopOptions workflows.LoopOptions
	// PageSize is the provider page size the Retrieve activity asks for,
	// and BatchSize the records per database transaction (0: the
	// activities' defaults).
	PageSize  int
	BatchSize int
	// MaxConcurrentActivities and TaskQueueActivitiesPerSecond tune the
	// worker as SYNCLOOP_MAX_CONCURRENT_ACTIVITIES and
	// SYNCLOOP_TASK_QUEUE_ACTIVITIES_PER_SECOND do (0: the defaults).
	MaxConcurrentActivities      int
	TaskQueueActivitiesPerSecond float64
	// WatcherEvery is the watcher schedule's interval (0: 5m) and
	// WatcherOptions its settings.
	WatcherEvery   time.Duration
	WatcherOptions workflows.WatcherOptions
	// WorkerStopTimeout lets running activities finish on Stop before
	// they are cancelled (0: 5s).
	WorkerStopTimeout time.Duration

	// APIToken is the REST API's bearer token (empty: no auth, which
	// Start allows on a loopback APIAddr only unless APIInsecureNoAuth).
	APIToken          string
	APIInsecureNoAuth bool
	// WebhookURL and WebhookSecret configure the watcher's notifications.
	WebhookURL    string
	WebhookSecret string
}

// FromConfig is the Config of `go run ./worker -dev` for the settings
// the environment gave (config.Load): the database, task queue, secret
// key, webhook, watcher, metrics and tuning the worker would use, and the
// stack's own data directory, ports and addresses. The caller adds the
// logger and the demo CRM's options.
func FromConfig(c config.Config) Config {
	return Config{
		DataDir: c.Dev.DataDir, TemporalPort: c.Dev.TemporalPort, UIPort: c.Dev.UIPort,
		APIAddr: c.APIAddr, DemoAddr: c.Dev.DemoAddr,
		MetricsAddr: c.MetricsAddr, MetricsOptional: !c.MetricsAddrSet,
		DatabaseURL: c.DatabaseURL, TaskQueue: c.TaskQueue, SecretKey: c.SecretKey,
		PageSize: c.PageSize, BatchSize: c.BatchSize,
		MaxConcurrentActivities: c.MaxConcurrentActivities, TaskQueueActivitiesPerSecond: c.TaskQueueActivitiesPerSecond,
		WatcherEvery: c.WatcherInterval, WatcherOptions: c.Watcher,
		APIToken: c.APIToken, APIInsecureNoAuth: c.APIInsecureNoAuth, WebhookURL: c.WebhookURL, WebhookSecret: c.WebhookSecret,
	}
}

// workerConfig is the config.Config the stack's worker is built from.
func (c Config) workerConfig(demoURL string) config.Config {
	wc := config.Default()
	wc.DatabaseURL, wc.TaskQueue, wc.DemoURL, wc.SecretKey = c.DatabaseURL, c.TaskQueue, demoURL, c.SecretKey
	wc.WebhookURL, wc.WebhookSecret = c.WebhookURL, c.WebhookSecret
	wc.WatcherInterval, wc.Watcher = c.WatcherEvery, c.WatcherOptions
	wc.MetricsAddr, wc.MetricsAddrSet = c.MetricsAddr, !c.MetricsOptional
	wc.PageSize, wc.BatchSize = c.PageSize, c.BatchSize
	wc.MaxConcurrentActivities, wc.TaskQueueActivitiesPerSecond = c.MaxConcurrentActivities, c.TaskQueueActivitiesPerSecond
	wc.APIAddr, wc.APIToken, wc.APIInsecureNoAuth = c.APIAddr, c.APIToken, c.APIInsecureNoAuth
	return wc
}

// DefaultObjects are the demo tenant's objects a fresh stack starts with:
// short intervals, so cycles show up in the UI within minutes.
func DefaultObjects() []control.AddRequest {
	obj := func(objectType string, interval time.Duration) control.AddRequest {
		return control.AddRequest{Key: model.ObjectKey{Tenant: DemoTenant, Provider: "demo", ObjectType: objectType}, Interval: interval}
	}
	return []control.AddRequest{
		obj("accounts", time.Minute),
		obj("contacts", 90*time.Second),
		obj("opportunities", 2*time.Minute),
		obj("tasks", 2*time.Minute),
	}
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.APIAddr == "" {
		c.APIAddr = "127.0.0.1:0"
	}
	if c.DemoAddr == "" {
		c.DemoAddr = "127.0.0.1:0"
	}
	if c.MetricsAddr == "" {
		c.MetricsAddr = "127.0.0.1:0"
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = store.DefaultDatabaseURL
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.TaskQueue == "" {
		c.TaskQueue = config.DefaultTaskQueue
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TemporalLogLevel == nil {
		c.TemporalLogLevel = slog.LevelWarn
	}
	if c.Demo.Size == 0 {
		c.Demo.Size = DefaultDemoSize
	}
	if c.Objects == nil {
		c.Objects = DefaultObjects()
	}
	if c.WatcherEvery == 0 {
		c.WatcherEvery = 5 * time.Minute
	}
	if c.WorkerStopTimeout == 0 {
		c.WorkerStopTimeout = 5 * time.Second
	}
	return c
}

func (c Config) validate() error {
	for _, p := range []struct {
		port       int
		what, flag string
	}{{c.TemporalPort, "Temporal frontend", FlagTemporalPort}, {c.UIPort, "Temporal Web UI", FlagUIPort}} {
		if p.port < 0 || p.port > 65535 {
			return fmt.Errorf("%s port %d is not a port number (0-65535): fix %s", p.what, p.port, p.flag)
		}
	}
	if c.TemporalPort != 0 && c.TemporalPort == c.UIPort {
		return fmt.Errorf("the Temporal frontend and the Web UI cannot share port %d: change %s or %s", c.UIPort, FlagTemporalPort, FlagUIPort)
	}
	if c.MetricsAddr != config.MetricsOff {
		if err := config.CheckListenAddr(c.MetricsAddr); err != nil {
			return fmt.Errorf("metrics address %q: %v: fix %s (host:port, :port or off)", c.MetricsAddr, err, config.EnvMetricsAddr)
		}
	}
	for _, a := range []struct{ addr, what, flag, env string }{
		{c.APIAddr, "REST API", FlagAPIAddr, EnvAPIAddr}, {c.DemoAddr, "demo CRM", FlagDemoAddr, EnvDemoAddr},
	} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%s address %q is not host:port or :port (%v): fix %s or %s", a.what, a.addr, err, a.flag, a.env)
		}
	}
	return config.CheckAPIAuth(c.APIAddr, c.APIToken, c.APIInsecureNoAuth)
}

// Addresses says where each part of a running stack is.
type Addresses struct {
	// Temporal is the frontend's gRPC host:port (TEMPORAL_ADDRESS for the
	// CLI and other workers).
	Temporal  string
	Namespace string
	TaskQueue string
	// UI, API and Demo are base URLs.
	UI   string
	API  string
	Demo string
	// Metrics is the worker's Prometheus endpoint ("" when not served).
	Metrics string
	// TemporalDB is the SQLite file holding Temporal's state.
	TemporalDB string
	// Database is the PostgreSQL URL without its password.
	Database string
}

// String is the banner `go run ./worker -dev` prints.
func (a Addresses) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "syncloop dev stack is running\n")
	fmt.Fprintf(&b, "  Temporal Web UI    %s/namespaces/%s/workflows\n", a.UI, url.PathEscape(a.Namespace))
	fmt.Fprintf(&b, "  Temporal frontend  %s  (namespace %q, task queue %q)\n", a.Temporal, a.Namespace, a.TaskQueue)
	fmt.Fprintf(&b, "  Temporal state     %s\n", a.TemporalDB)
	fmt.Fprintf(&b, "  REST API           %s/sync/v1/status\n", a.API)
	fmt.Fprintf(&b, "  demo CRM           %s\n", a.Demo)
	if a.Metrics != "" {
		fmt.Fprintf(&b, "  metrics            %s\n", a.Metrics)
	}
	fmt.Fprintf(&b, "  PostgreSQL         %s\n", a.Database)
	fmt.Fprintf(&b, "CLI against this stack: DATABASE_URL='%s' TEMPORAL_ADDRESS=%s go run ./starter objects list\n", a.Database, a.Temporal)
	fmt.Fprintf(&b, "Ctrl-C stops everything; state survives in %s and PostgreSQL.\n", filepath.Dir(a.TemporalDB))
	return b.String()
}

// Stack is a running local stack. Its exported fields are for tests and
// tools; Stop shuts everything down.
type Stack struct {
	// Client is connected to the embedded server's namespace.
	Client  client.Client
	Store   *store.Store
	Service *control.Service
	// Demo is the demo CRM (tests inject faults and read snapshots).
	Demo *democrm.Server
	// Seeded lists the objects this start added (none on a restart).
	Seeded []model.ObjectKey

	cfg      Config
	addrs    Addresses
	log      *slog.Logger
	temporal *temporalServer
	ui       *webUI
	metrics  *metrics.Metrics
	metricsS *wiring.MetricsServer
	worker   *wiring.Worker
	apiLn    net.Listener // closed by apiSrv once it serves
	demoLn   net.Listener
	apiSrv   *http.Server
	apiDone  chan struct{}
	demoSrv  *http.Server
	demoDone chan struct{}
	churn    context.CancelFunc
	churnEnd chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// Start starts the stack and returns once every part answers and the
// demo objects (on a first start) have been added. On error, whatever was
// started is stopped again.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, log: cfg.Logger}
	if err := s.start(ctx); err != nil {
		if stopErr := s.Stop(); stopErr != nil {
			s.log.Warn("dev stack: clean-up after a failed start", "error", stopErr.Error())
		}
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context) error {
	cfg := s.cfg
	var err error
	// 1. Every port first: a taken one fails before anything starts.
	if cfg.TemporalPort == 0 || cfg.UIPort == 0 {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		if cfg.TemporalPort == 0 {
			cfg.TemporalPort = ports[0]
		}
		if cfg.UIPort == 0 {
			cfg.UIPort = ports[1]
		}
		s.cfg = cfg
	}
	const ip = "127.0.0.1"
	if err := checkFree(hostPort(ip, cfg.TemporalPort), "Temporal frontend", FlagTemporalPort, EnvTemporalPort); err != nil {
		return err
	}
	if err := checkFree(hostPort(ip, cfg.UIPort), "Temporal Web UI", FlagUIPort, EnvUIPort); err != nil {
		return err
	}
	apiLn, err := listen(cfg.APIAddr, "REST API", FlagAPIAddr, EnvAPIAddr)
	if err != nil {
		return err
	}
	s.apiLn = apiLn
	demoLn, err := listen(cfg.DemoAddr, "demo CRM", FlagDemoAddr, EnvDemoAddr)
	if err != nil {
		return err
	}
	s.demoLn = demoLn
	// The worker's metrics registry, served at once (the SDK's client
	// reports into it from the start).
	s.metrics = metrics.New()
	if s.metricsS, err = wiring.ServeMetrics(cfg.MetricsAddr, cfg.MetricsOptional, s.metrics.Handler(), s.log); err != nil {
		return err
	}
	s.addrs = Addresses{
		Namespace: cfg.Namespace, TaskQueue: cfg.TaskQueue,
		API: "http://" + browsable(apiLn.Addr()), Demo: "http://" + dialable(demoLn.Addr()),
		Database: store.Redact(cfg.DatabaseURL),
	}
	if s.metricsS != nil {
		s.addrs.Metrics = "http://" + browsable(s.metricsS.Addr) + "/metrics"
	}

	// 2. PostgreSQL (migrations run here).
	s.Store, err = store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("PostgreSQL (DATABASE_URL): %w", err)
	}

	// 3. Temporal, its namespace and search attributes.
	quiet := slog.New(minLevel{min: cfg.TemporalLogLevel.Level(), h: s.log.Handler()})
	s.log.Info("dev stack: starting the Temporal server", "data_dir", cfg.DataDir, "port", cfg.TemporalPort)
	s.temporal, err = startTemporal(ctx, temporalOptions{
		dataDir: cfg.DataDir, ip: ip, port: cfg.TemporalPort, namespace: cfg.Namespace,
		logger: s.log, logLevel: cfg.TemporalLogLevel.Level(),
	})
	if err != nil {
		return err
	}
	s.addrs.Temporal, s.addrs.TemporalDB = s.temporal.hostPort, s.temporal.dbPath
	s.Client, err = dialTemporal(ctx, s.temporal.hostPort, cfg.Namespace, quiet, s.metrics.SDKHandler())
	if err != nil {
		return fmt.Errorf("connect to the embedded Temporal server: %w", err)
	}
	if err := control.EnsureSearchAttributes(ctx, s.Client, cfg.Namespace); err != nil {
		return err
	}

	// 4. The Web UI.
	s.ui, err = startUI(ctx, ip, cfg.UIPort, s.temporal.hostPort, cfg.Namespace)
	if err != nil {
		return err
	}
	s.addrs.UI = s.ui.url

	// 5. The demo CRM, and churn so that syncs have work.
	demoOpts := cfg.Demo
	if demoOpts.Now == nil {
		if demoOpts.Now, err = demoClock(cfg.DataDir); err != nil {
			return err
		}
	}
	s.Demo = democrm.NewServer(demoOpts)
	s.demoSrv = &http.Server{Handler: s.Demo, ReadHeaderTimeout: 10 * time.Second}
	s.demoDone = serve(s.demoSrv, demoLn, s.log, "demo CRM")
	if cfg.ChurnEvery > 0 && cfg.ChurnRecords > 0 {
		churnCtx, cancel := context.WithCancel(context.Background())
		s.churn, s.churnEnd = cancel, make(chan struct{})
		go func() {
			defer close(s.churnEnd)
			s.Demo.RunChurn(churnCtx, cfg.ChurnEvery, cfg.ChurnRecords)
		}()
	}

	// 6. The worker, built as worker/main.go builds it, against the demo CRM.
	w, err := wiring.New(cfg.workerConfig(s.addrs.Demo), s.Client, cfg.Namespace, s.Store, s.log, wiring.Options{
		Metrics: s.metrics, LoopOptions: cfg.LoopOptions,
		Worker: worker.Options{WorkerStopTimeout: cfg.WorkerStopTimeout},
	})
	if err != nil {
		return err
	}
	if w.Secrets == nil {
		s.log.Info("dev stack: " + config.EnvSecretKey + " is not set: connections with stored credentials cannot be used")
	}
	s.Service = w.Service
	if err := w.Start(ctx); err != nil {
		return err
	}
	s.worker = w

	// 7. The REST API.
	s.apiSrv = &http.Server{
		Handler:           api.New(s.Service, api.Options{Token: cfg.APIToken, Logger: s.log}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      api.DefaultRequestTimeout + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    api.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.apiDone = serve(s.apiSrv, apiLn, s.log, "REST API")
	if cfg.APIToken == "" {
		if config.IsLoopbackListen(cfg.APIAddr) {
			s.log.Warn(config.EnvAPIToken+" is not set: the REST API accepts requests without authentication from this machine", "addr", apiLn.Addr().String())
		} else {
			s.log.Warn(config.EnvAPIToken+" is not set and --"+config.FlagInsecureNoAuth+" is: anyone who can reach the REST API controls the sync", "addr", apiLn.Addr().String())
		}
	}

	// 8. The demo tenant, on a first start only.
	return s.seed(ctx)
}

// seed adds the configured objects if the database has none yet.
func (s *Stack) seed(ctx context.Context) error {
	if s.cfg.SkipSeed || len(s.cfg.Objects) == 0 {
		return nil
	}
	existing, err := s.Store.ListObjects(ctx)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	if len(existing) > 0 {
		s.log.Info("dev stack: objects exist, leaving them as they are", "objects", len(existing))
		return nil
	}
	for _, r := range s.cfg.Objects {
		if _, _, err := s.Service.Add(ctx, r); err != nil {
			return fmt.Errorf("add demo object %s: %w", r.Key, err)
		}
		s.Seeded = append(s.Seeded, r.Key)
		s.log.Info("dev stack: added demo object", "object", r.Key.String(), "interval", model.FormatInterval(r.Interval))
	}
	return nil
}

// Addresses says where everything is.
func (s *Stack) Addresses() Addresses { return s.addrs }

// Stop shuts the stack down in order — worker, REST API, Web UI, demo
// CRM, Temporal server — each with a timeout, then closes the database
// pool. It is safe to call more than once.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Stack) stop() error {
	var errs []error
	if s.worker != nil {
		s.log.Info("dev stack: stopping the worker")
		if !within(s.cfg.WorkerStopTimeout+15*time.Second, s.worker.Stop) {
			errs = append(errs, errors.New("the worker did not stop in time"))
		}
	}
	if s.metricsS != nil {
		errs = append(errs, s.metricsS.Close())
	}
	if s.apiSrv != nil {
		s.log.Info("dev stack: stopping the REST API")
		errs = append(errs, shutdown(s.apiSrv, s.apiDone, 10*time.Second, "REST API"))
	} else if s.apiLn != nil {
		_ = s.apiLn.Close()
	}
	if s.ui != nil {
		s.log.Info("dev stack: stopping the Web UI")
		s.ui.stop(5 * time.Second)
	}
	if s.churn != nil {
		s.churn()
		<-s.churnEnd
	}
	if s.demoSrv != nil {
		s.log.Info("dev stack: stopping the demo CRM")
		errs = append(errs, shutdown(s.demoSrv, s.demoDone, 5*time.Second, "demo CRM"))
	} else if s.demoLn != nil {
		_ = s.demoLn.Close()
	}
	if s.Client != nil {
		s.Client.Close()
	}
	if s.temporal != nil {
		s.log.Info("dev stack: stopping the Temporal server")
		errs = append(errs, s.temporal.stop(30*time.Second))
	}
	if s.Store != nil {
		s.Store.Close()
	}
	if s.metrics != nil {
		_ = s.metrics.Close()
	}
	s.log.Info("dev stack: stopped")
	return errors.Join(errs...)
}

// serve runs srv on ln until it is shut down; the channel closes then.
func serve(srv *http.Server, ln net.Listener, log *slog.Logger, what string) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("dev stack: "+what+" stopped serving", "error", err.Error())
		}
	}()
	return done
}

// shutdown lets requests in flight finish for up to timeout, then closes
// the connections that remain.
func shutdown(srv *http.Server, done chan struct{}, timeout time.Duration, what string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var err error
	if srv.Shutdown(ctx) != nil {
		_ = srv.Close()
		err = fmt.Errorf("%s: requests still running after %s were cut off", what, timeout)
	}
	<-done
	return err
}

// within runs fn and reports whether it returned before timeout.
func within(timeout time.Duration, fn func()) bool {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// browsable is a listen address as a browser should open it: a wildcard
// or loopback host becomes localhost.
func browsable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// minLevel drops records below min before they reach h.
type minLevel struct {
	min slog.Level
	h   slog.Handler
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{min: m.min, h: m.h.WithAttrs(as)}
}
func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{min: m.min, h: m.h.WithGroup(name)}
}
