// Command democrm serves syncloop's demo CRM (connectors/demo) as a process
// of its own, for the container stack in docker-compose.yml: the worker
// syncs "demo" objects without a connection from it (SYNCLOOP_DEMO_URL).
//
//	go run ./deploy/democrm -addr :8090 -size 300 -churn 5s
//
// Routes: the demo API GET /api/v1/{type}, the admin endpoints
// POST /admin/v1/{type}/mutate?change=N&add=N&delete=N and
// GET /admin/v1/{type}/snapshot, and GET /healthz for container health
// checks. With DEMOCRM_TOKEN set, API requests need
// "Authorization: Bearer <token>" (admin endpoints never do).
//
// The CRM lives in memory. With -epoch-file, the instant of the first start
// is saved there and every restart re-creates the same seeded records, so a
// restarted CRM does not contradict what was already synced; changes made
// since (churn, admin mutations) are lost on restart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
)

// envToken names the environment variable holding the optional API token
// (never a flag: flags show up in process listings).
const envToken = "DEMOCRM_TOKEN"

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger, os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "democrm: "+err.Error())
		os.Exit(1)
	}
}

type config struct {
	addr         string
	size         int
	seed         int64
	churnEvery   time.Duration
	churnRecords int
	epochFile    string
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("democrm", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", ":8090", "listen address, host:port or :port")
	fs.IntVar(&c.size, "size", 300, "records seeded per object type (0: none)")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the dataset: the same seed and epoch give the same records")
	fs.DurationVar(&c.churnEvery, "churn", 5*time.Second, "how often a few records change, appear or disappear (0: never)")
	fs.IntVar(&c.churnRecords, "churn-records", 3, "records mutated per churn tick")
	fs.StringVar(&c.epochFile, "epoch-file", "", "file keeping the dataset's creation time across restarts (created if missing; empty: a new dataset every start)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: democrm [flags]\n\nServes syncloop's demo CRM. The API token, if any, comes from %s.\n\nFlags:\n", envToken)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q (see -h)", fs.Args())
	case c.size < 0:
		return c, fmt.Errorf("-size %d: want 0 or more records", c.size)
	case c.churnEvery < 0:
		return c, fmt.Errorf("-churn %s: want a positive duration such as 5s, or 0 for none", c.churnEvery)
	case c.churnRecords < 0:
		return c, fmt.Errorf("-churn-records %d: want 0 or more", c.churnRecords)
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return c, fmt.Errorf("-addr %q is not a listen address (%v): use host:port or :port, e.g. :8090", c.addr, err)
	}
	return c, nil
}

func run(logger *slog.Logger, args []string, getenv func(string) string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	opts := democrm.Options{Size: cfg.size, Seed: cfg.seed, Token: getenv(envToken)}
	if cfg.size == 0 {
		opts.Size = -1 // democrm.Options treats 0 as "the default size"
	}
	if cfg.epochFile != "" {
		if opts.Now, err = democrm.EpochClock(cfg.epochFile); err != nil {
			return err
		}
	}
	crm := democrm.NewServer(opts)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %v; choose another address with -addr", cfg.addr, err)
	}
	srv := &http.Server{Handler: handler(crm), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var churn sync.WaitGroup
	churn.Go(func() { crm.RunChurn(ctx, cfg.churnEvery, cfg.churnRecords) })

	logger.Info("demo CRM listening", "addr", ln.Addr().String(), "size", cfg.size, "seed", cfg.seed,
		"churn", cfg.churnEvery.String(), "auth", opts.Token != "", "object_types", strings.Join(democrm.ObjectTypes(), ","))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
		stop()
		churn.Wait()
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	churn.Wait()
	return nil
}

// handler serves the CRM plus GET /healthz.
func handler(crm http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("/", crm)
	return mux
}
