// Command syncloop is the operator CLI: it adds and controls integration
// objects and reports sync status. Run `syncloop --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/internal/config"
	"github.com/syncloop/syncloop/model"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		var ce configError
		if errors.As(err, &ce) {
			// One line per bad variable: every one of them needs fixing.
			for line := range strings.SplitSeq(ce.Error(), "\n") {
				fmt.Fprintln(os.Stderr, "syncloop: "+line)
			}
		} else {
			fmt.Fprintln(os.Stderr, "syncloop: "+oneLine(err))
		}
		os.Exit(exitCode(err))
	}
}

// configError is a bad environment variable (or several, one per line).
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// loadConfig reads the environment when a command runs (not when the
// command line is built), so `--help` works whatever the environment says.
func loadConfig() (config.Config, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return cfg, configError{err}
	}
	return cfg, nil
}

// usageError is a mistake in the command line itself.
type usageError struct{ error }

func exitCode(err error) int {
	var ue usageError
	var ie *control.InputError
	var nf *control.NotFoundError
	var conflict *control.ConflictError
	switch {
	case errors.As(err, &conflict):
		return 4
	case errors.As(err, &ue), errors.As(err, &ie):
		return 2
	case errors.As(err, &nf):
		return 3
	default:
		return 1
	}
}

func oneLine(err error) string {
	s := err.Error()
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "syncloop",
		Short: "Keep SaaS objects in sync with PostgreSQL, one Temporal loop per object",
		Long: `syncloop controls integration objects: one tenant's one object type at one
provider (ID <tenant>/<provider>/<object_type>, e.g. acme/demo/accounts).

Connections: DATABASE_URL for PostgreSQL; TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_API_KEY, TEMPORAL_TLS_* (or a Temporal config profile) for Temporal;
SYNCLOOP_TASK_QUEUE (default "syncloop").`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		hint := ""
		if strings.Contains(err.Error(), "unknown shorthand flag") && strings.Contains(c.Use, "<interval>") {
			hint = "; intervals are positive durations between 1m and 7d, e.g. 30m"
		}
		return usageError{fmt.Errorf("%v%s (see `%s --help`)", err, hint, c.CommandPath())}
	})
	groupCommand(root)
	root.AddCommand(objectsCmd(), connectionsCmd(), recordsCmd(), statusCmd(), syncCmd(), serveCmd(), setupCmd())
	return root
}

// groupCommand makes a command that only holds subcommands refuse an
// unknown one with a usage error naming the closest match, instead of
// printing help and succeeding (or cobra's multi-line message).
func groupCommand(c *cobra.Command) *cobra.Command {
	c.SuggestionsMinimumDistance = 2
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return usageError{fmt.Errorf("%s (see `%s --help`)", msg, c.CommandPath())}
	}
	c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return c
}

// exactArgs is cobra.ExactArgs with a message that names the fix.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s expects %s (got %s): e.g. `%s`", c.CommandPath(), what, model.Plural(len(args), "argument"), c.Example)}
		}
		return nil
	}
}

// rangeArgs accepts min to max arguments.
func rangeArgs(min, max int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return usageError{fmt.Errorf("%s expects %s (got %s): e.g. `%s`", c.CommandPath(), what, model.Plural(len(args), "argument"), c.Example)}
		}
		return nil
	}
}

// withService opens PostgreSQL and Temporal only after the arguments were
// validated, so bad input fails fast and changes nothing.
func withService(c *cobra.Command, fn func(ctx context.Context, svc *control.Service) error) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	svc, closeFn, err := control.Open(c.Context(), openOptions(cfg, nil))
	if err != nil {
		return err
	}
	defer closeFn()
	return cliError(fn(c.Context(), svc))
}

// cliError words control's errors for the command line: a refusal
// because cycles run names the CLI's override, --force.
func cliError(err error) error {
	var ce *control.ConflictError
	if errors.As(err, &ce) {
		return forceError{ce}
	}
	return err
}

// forceError is a ConflictError as the CLI says it.
type forceError struct{ ce *control.ConflictError }

func (e forceError) Error() string { return e.ce.Fix("--force") }
func (e forceError) Unwrap() error { return e.ce }

// openOptions are control.Open's settings from the configuration; logger
// receives the SDK's logs (nil: warnings on stderr).
func openOptions(cfg config.Config, logger *slog.Logger) control.OpenOptions {
	return control.OpenOptions{DatabaseURL: cfg.DatabaseURL, TaskQueue: cfg.TaskQueue, SecretKey: cfg.SecretKey, Logger: logger}
}
