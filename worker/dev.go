package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/devstack"
	"github.com/syncloop/syncloop/internal/config"
)

// devMode reports whether args ask for the all-in-one local stack (-dev or
// --dev, anywhere before a "--"), and returns the other arguments.
func devMode(args []string) (rest []string, dev bool) {
	rest = make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(rest, args[i:]...), dev
		}
		switch a {
		case "-dev", "--dev", "-dev=true", "--dev=true":
			dev = true
			continue
		case "-dev=false", "--dev=false":
			continue
		}
		rest = append(rest, a)
	}
	return rest, dev
}

// runDev runs the all-in-one local stack — an embedded Temporal server
// (SQLite in the data directory) with its Web UI, the worker and the
// watcher schedule, the REST API and the demo CRM — until ctx is done (the
// caller cancels it on SIGINT/SIGTERM), then shuts it down in order.
func runDev(ctx context.Context, logger *slog.Logger, conf config.Config, args []string) error {
	fs := flag.NewFlagSet("worker -dev", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	dataDir := fs.String("dev-data-dir", conf.Dev.DataDir,
		"directory for the embedded Temporal server's state (temporal.db), created if missing (env "+config.EnvDevDataDir+")")
	temporalPort := fs.Int("temporal-port", conf.Dev.TemporalPort,
		"gRPC port of the embedded Temporal frontend on 127.0.0.1 (env "+config.EnvDevTemporalPort+")")
	uiPort := fs.Int("ui-port", conf.Dev.UIPort,
		"HTTP port of the Temporal Web UI on 127.0.0.1 (env "+config.EnvDevUIPort+")")
	apiAddr := fs.String("api-addr", conf.APIAddr,
		"listen address of the REST API (env "+config.EnvAPIAddr+"; bearer token from "+config.EnvAPIToken+")")
	insecure := fs.Bool(config.FlagInsecureNoAuth, conf.APIInsecureNoAuth,
		"serve the REST API without "+config.EnvAPIToken+" on a non-loopback -api-addr (env "+config.EnvAPIInsecureNoAuth+"=true)")
	demoAddr := fs.String("demo-addr", conf.Dev.DemoAddr,
		"listen address of the demo CRM the demo objects sync from (env "+config.EnvDevDemoAddr+")")
	demoSize := fs.Int("demo-size", devstack.DefaultDemoSize, "records per object type in the demo CRM")
	demoSeed := fs.Int64("demo-seed", 1, "seed of the demo CRM's dataset")
	churnEvery := fs.Duration("demo-churn", 5*time.Second, "how often the demo CRM changes, adds and deletes a few records (0: never)")
	verbose := fs.Bool("dev-verbose", false, "also show the Temporal server's and SDK's INFO logs")
	fs.Usage = func() { devUsage(fs.Output(), fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: `go run ./worker -dev -h` lists the flags", fs.Args())
	}
	for _, p := range []struct {
		port int
		flag string
	}{{*temporalPort, "-temporal-port"}, {*uiPort, "-ui-port"}} {
		if p.port < 1 || p.port > 65535 {
			return fmt.Errorf("%s %d is not a port number (1-65535)", p.flag, p.port)
		}
	}
	conf.Dev = config.DevSettings{DataDir: *dataDir, TemporalPort: *temporalPort, UIPort: *uiPort, DemoAddr: *demoAddr}
	conf.APIAddr, conf.APIInsecureNoAuth = *apiAddr, *insecure
	cfg := devstack.FromConfig(conf)
	cfg.Logger = logger
	cfg.Demo = devDemoOptions(*demoSize, *demoSeed)
	cfg.ChurnEvery, cfg.ChurnRecords = *churnEvery, 3
	if *verbose {
		cfg.TemporalLogLevel = slog.LevelInfo
	}

	stack, err := devstack.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stdout, "\n"+stack.Addresses().String()+"\n")
	<-ctx.Done()

	// A second Ctrl-C while shutting down exits at once.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	go func() {
		if _, ok := <-again; ok {
			fmt.Fprintln(os.Stderr, "syncloop worker -dev: second signal, exiting without a clean shutdown")
			os.Exit(1)
		}
	}()
	logger.Info("dev stack: shutting down (Ctrl-C again to exit at once)")
	return stack.Stop()
}

func devDemoOptions(size int, seed int64) (o democrm.Options) {
	o.Size, o.Seed = size, seed
	if size == 0 {
		o.Size = -1 // the flag's 0 means "no records"
	}
	return o
}

func devUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: go run ./worker -dev [flags]

Runs syncloop's whole local stack in one process: an embedded Temporal
server (state in <dev-data-dir>/temporal.db, so loops survive a restart)
with the namespace "default" and syncloop's search attributes, the Temporal
Web UI, the worker and the watcher schedule (configured like the worker,
by the same SYNCLOOP_* variables; /metrics on SYNCLOOP_METRICS_ADDR,
default 127.0.0.1:9090), the REST API (default 127.0.0.1:8080; another
address needs SYNCLOOP_API_TOKEN or -insecure-no-auth), and a demo CRM
with churn. On a first start
(no objects in PostgreSQL yet) it adds the demo tenant's objects
demo/demo/{accounts,contacts,opportunities,tasks}.
PostgreSQL comes from DATABASE_URL (default `+config.DefaultDatabaseURL+`;
start one with "docker compose up -d postgres").
SIGINT/SIGTERM stops everything cleanly. Without -dev, the worker never
starts a server of its own.

Flags:
`)
	fs.PrintDefaults()
}
