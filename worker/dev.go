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
	"strconv"
	"syscall"
	"time"

	"github.com/syncloop/syncloop/connectors/demo"
	"github.com/syncloop/syncloop/devstack"
	"github.com/syncloop/syncloop/store"
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
func runDev(ctx context.Context, logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("worker -dev", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	dataDir := fs.String("dev-data-dir", envOr(devstack.EnvDataDir, devstack.DefaultDataDir),
		"directory for the embedded Temporal server's state (temporal.db), created if missing (env "+devstack.EnvDataDir+")")
	temporalPort := fs.Int("temporal-port", devstack.DefaultTemporalPort,
		"gRPC port of the embedded Temporal frontend on 127.0.0.1 (env "+devstack.EnvTemporalPort+")")
	uiPort := fs.Int("ui-port", devstack.DefaultUIPort,
		"HTTP port of the Temporal Web UI on 127.0.0.1 (env "+devstack.EnvUIPort+")")
	apiAddr := fs.String("api-addr", envOr(devstack.EnvAPIAddr, devstack.DefaultAPIAddr),
		"listen address of the REST API (env "+devstack.EnvAPIAddr+"; bearer token from SYNCLOOP_API_TOKEN)")
	demoAddr := fs.String("demo-addr", envOr(devstack.EnvDemoAddr, devstack.DefaultDemoAddr),
		"listen address of the demo CRM the demo objects sync from (env "+devstack.EnvDemoAddr+")")
	demoSize := fs.Int("demo-size", devstack.DefaultDemoSize, "records per object type in the demo CRM")
	demoSeed := fs.Int64("demo-seed", 1, "seed of the demo CRM's dataset")
	churnEvery := fs.Duration("demo-churn", 5*time.Second, "how often the demo CRM changes, adds and deletes a few records (0: never)")
	verbose := fs.Bool("dev-verbose", false, "also show the Temporal server's and SDK's INFO logs")
	fs.Usage = func() { devUsage(fs.Output(), fs) }

	// Ports from the environment, so that a bad value names its variable.
	for _, p := range []struct {
		into *int
		env  string
	}{{temporalPort, devstack.EnvTemporalPort}, {uiPort, devstack.EnvUIPort}} {
		if v := os.Getenv(p.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("%s=%q is not a port number (1-65535)", p.env, v)
			}
			*p.into = n
		}
	}
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
	wcfg, err := watcherConfigFromEnv()
	if err != nil {
		return err
	}
	cfg := devstack.Config{
		DataDir: *dataDir, TemporalPort: *temporalPort, UIPort: *uiPort,
		APIAddr: *apiAddr, DemoAddr: *demoAddr,
		DatabaseURL: store.URLFromEnv(),
		Logger:      logger,
		Demo:        devDemoOptions(*demoSize, *demoSeed),
		ChurnEvery:  *churnEvery, ChurnRecords: 3,
		WatcherEvery: wcfg.every, WatcherOptions: wcfg.options,
		APIToken:   os.Getenv("SYNCLOOP_API_TOKEN"),
		WebhookURL: os.Getenv("SYNCLOOP_WEBHOOK_URL"), WebhookSecret: os.Getenv("SYNCLOOP_WEBHOOK_SECRET"),
	}
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

func devDemoOptions(size int, seed int64) (o demo.Options) {
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
Web UI, the worker and the watcher schedule, the REST API, and a demo CRM
with churn. On a first start (no objects in PostgreSQL yet) it adds the
demo tenant's objects demo/demo/{accounts,contacts,opportunities,tasks}.
PostgreSQL comes from DATABASE_URL (default `+store.DefaultURL+`;
start one with "docker compose up -d postgres").
SIGINT/SIGTERM stops everything cleanly. Without -dev, the worker never
starts a server of its own.

Flags:
`)
	fs.PrintDefaults()
}
