// Command temporalpg runs a Temporal server (frontend, history, matching
// and worker services in this one process) backed by the local
// PostgreSQL, for the benchmark:
//
//	go run ./bench/temporalpg [-database-url URL] [-db NAME] [-visibility-db NAME] [-fresh=false] [-shards N]
//
// It creates the two databases if they are missing (default
// syncloop_bench_temporal and syncloop_bench_temporal_vis), applies
// Temporal's PostgreSQL schemas (persistence and SQL visibility, the
// postgres12 plugin, embedded in go.temporal.io/server/schema) — dropping
// every table first unless -fresh=false, so each start is an empty server
// like temporaltest's — starts the server with its frontend on a free
// loopback port, registers the namespace "default", and when the
// namespace serves requests prints one JSON line on stdout:
//
//	{"frontend":"127.0.0.1:41234","namespace":"default","metrics":"http://127.0.0.1:41235/metrics","pid":123}
//
// metrics is the server's Prometheus endpoint (tally, as a deployed server
// has it), with the billable-action counter `action` by action_type. It
// runs until SIGINT/SIGTERM or until stdin is closed (so it does not
// outlive a benchmark that died). Logs go to stderr. A PostgreSQL
// advisory lock keeps two instances off the same databases.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/resolver"
	dbschemas "go.temporal.io/server/schema"
	pgschema "go.temporal.io/server/schema/postgresql/v12"

	"github.com/syncloop/syncloop/internal/tserver"
	"google.golang.org/protobuf/types/known/durationpb"
)

const clusterName = "active"

// Ready is the line printed on stdout once the server serves requests.
type Ready struct {
	Frontend  string `json:"frontend"`
	Namespace string `json:"namespace"`
	Metrics   string `json:"metrics"`
	PID       int    `json:"pid"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("temporalpg: ")
	dbURL := flag.String("database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server (user, password, host, port; the path names the database to connect to for CREATE DATABASE)")
	dbName := flag.String("db", "syncloop_bench_temporal", "Temporal's persistence database (created if missing)")
	visName := flag.String("visibility-db", "syncloop_bench_temporal_vis", "Temporal's SQL visibility database (created if missing)")
	fresh := flag.Bool("fresh", true, "drop every table and set the schemas up again: an empty server (false: reuse what a previous run left)")
	namespace := flag.String("namespace", "default", "namespace to register")
	shards := flag.Int("shards", 4, "history shards (fixed when the database is first set up)")
	maxConns := flag.Int("max-conns", 20, "PostgreSQL connections per store")
	logLevel := flag.String("log-level", "warn", "server log level (to stderr)")
	flag.Parse()
	if err := run(*dbURL, *dbName, *visName, *fresh, *namespace, *shards, *maxConns, *logLevel); err != nil {
		log.Fatal(err)
	}
}

func run(dbURL, dbName, visName string, fresh bool, namespace string, shards, maxConns int, logLevel string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-database-url %q: want postgres://user[:password]@host:port/db", dbURL)
	}
	logger := tlog.NewZapLogger(tlog.BuildZapLogger(tlog.Config{Level: logLevel}))

	admin, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w (is PostgreSQL running?)", u.Redacted(), err)
	}
	defer admin.Close(context.Background())
	// Held for the life of the process (the session's lock).
	var locked bool
	if err := admin.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('syncloop temporalpg ' || $1))`, dbName).Scan(&locked); err != nil {
		return err
	}
	if !locked {
		return fmt.Errorf("another temporalpg uses database %s: stop it, or pass -db and -visibility-db other names", dbName)
	}
	mainDB := sqlConfig(u, dbName, maxConns)
	vis := sqlConfig(u, visName, maxConns)
	for _, db := range []struct {
		cfg     *config.SQL
		kind    sqlplugin.DbKind
		schema  string
		version string
	}{
		{mainDB, sqlplugin.DbKindMain, "postgresql/v12/temporal", pgschema.Version},
		{vis, sqlplugin.DbKindVisibility, "postgresql/v12/visibility", pgschema.VisibilityVersion},
	} {
		if err := createDatabase(ctx, admin, db.cfg.DatabaseName, fresh); err != nil {
			return err
		}
		if err := setupSchema(db.cfg, db.kind, db.schema, db.version, logger); err != nil {
			return fmt.Errorf("schema of %s: %w", db.cfg.DatabaseName, err)
		}
	}

	cfg, hosts, err := serverConfig(mainDB, vis, shards)
	if err != nil {
		return err
	}
	srv, err := tserver.New(cfg, hosts, logger)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start the server: %w", err)
	}
	defer func() {
		done := make(chan struct{})
		go func() { _ = srv.Stop(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			log.Print("the server did not stop within 30s")
		}
	}()
	frontend := cfg.PublicClient.HostPort
	if err := registerNamespace(ctx, frontend, namespace); err != nil {
		return err
	}
	line, _ := json.Marshal(Ready{Frontend: frontend, Namespace: namespace, Metrics: "http://" + cfg.Global.Metrics.Prometheus.ListenAddress + "/metrics", PID: os.Getpid()})
	fmt.Println(string(line))

	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return nil
}

func sqlConfig(u *url.URL, db string, maxConns int) *config.SQL {
	pw, _ := u.User.Password()
	return &config.SQL{
		PluginName:      postgresql.PluginName,
		DatabaseName:    db,
		ConnectAddr:     u.Host,
		ConnectProtocol: "tcp",
		User:            u.User.Username(),
		Password:        pw,
		MaxConns:        maxConns,
		MaxIdleConns:    maxConns,
		MaxConnLifetime: time.Hour,
	}
}

// createDatabase creates the database if it is missing, or, fresh, drops
// and creates it (the schemas have functions and types besides tables).
func createDatabase(ctx context.Context, admin *pgx.Conn, name string, fresh bool) error {
	if fresh {
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
	}
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// setupSchema applies the embedded schema (the latest, as
// temporal-sql-tool setup-schema does with -f schema.sql -version V) and
// records its version, which the server checks at start. A database that
// has the version already is reused.
func setupSchema(cfg *config.SQL, kind sqlplugin.DbKind, schemaDir, version string, logger tlog.Logger) error {
	db, err := sql.NewSQLAdminDB(kind, cfg, resolver.NewNoopResolver(), logger, metrics.NoopMetricsHandler)
	if err != nil {
		return err
	}
	defer db.Close()
	if v, err := db.ReadSchemaVersion(cfg.DatabaseName); err == nil {
		if v == version {
			return nil
		}
		return fmt.Errorf("database %s has Temporal schema %s, this server needs %s: run with -fresh", cfg.DatabaseName, v, version)
	}
	if err := db.CreateSchemaVersionTables(); err != nil {
		return err
	}
	body, err := fs.ReadFile(dbschemas.Assets(), schemaDir+"/schema.sql")
	if err != nil {
		return err
	}
	stmts, err := persistence.LoadAndSplitQueryFromReaders([]io.Reader{bytes.NewReader(body)})
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if err := db.Exec(s); err != nil {
			return fmt.Errorf("%w in %s", err, strings.SplitN(strings.TrimSpace(s), "\n", 2)[0])
		}
	}
	if err := db.UpdateSchemaVersion(cfg.DatabaseName, version, version); err != nil {
		return err
	}
	return db.WriteSchemaUpdateLog("0", version, "", "initial version")
}

// serverConfig: PostgreSQL for persistence and visibility, the frontend
// and the other services on free loopback ports, static membership (every
// service is in this process), Prometheus metrics on a free port.
func serverConfig(mainDB, vis *config.SQL, shards int) (*config.Config, map[primitives.ServiceName]static.Hosts, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, nil, err
	}
	addr := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	frontend := addr(ports[0])
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(frontend),
		primitives.HistoryService:  static.SingleLocalHost(addr(ports[1])),
		primitives.MatchingService: static.SingleLocalHost(addr(ports[2])),
		primitives.WorkerService:   static.SingleLocalHost(addr(ports[3])),
	}
	service := func(p int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: p, BindOnIP: "127.0.0.1"}}
	}
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"},
			Metrics: &metrics.Config{Prometheus: &metrics.PrometheusConfig{
				ListenAddress: addr(ports[4]), HandlerPath: "/metrics",
			}},
		},
		Persistence: config.Persistence{
			DefaultStore:     "postgres",
			VisibilityStore:  "postgres-visibility",
			NumHistoryShards: int32(shards),
			DataStores: map[string]config.DataStore{
				"postgres":            {SQL: mainDB},
				"postgres-visibility": {SQL: vis},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			string(primitives.FrontendService): service(ports[0]),
			string(primitives.HistoryService):  service(ports[1]),
			string(primitives.MatchingService): service(ports[2]),
			string(primitives.WorkerService):   service(ports[3]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}, hosts, nil
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// registerNamespace registers the namespace (unless it exists) and waits
// until the frontend serves requests in it.
func registerNamespace(ctx context.Context, frontend, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var c client.Client
	var err error
	for {
		c, err = client.DialContext(ctx, client.Options{HostPort: frontend, Namespace: namespace, Logger: quietLogger{}})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server did not come up at %s: %w", frontend, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer c.Close()
	for {
		_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err == nil || errors.As(err, &exists) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("register namespace %q: %w", namespace, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	// The frontend's namespace cache learns of a new namespace on its own
	// schedule: wait until a namespaced call succeeds.
	for {
		_, err = c.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, PageSize: 1})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %q is not served: %w", namespace, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// quietLogger drops the SDK client's logs (it only dials and registers).
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
