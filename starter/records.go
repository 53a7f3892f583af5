package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/syncloop/syncloop/secrets"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// followPoll is how long `records --follow` waits for a change
// notification before it reads again anyway.
const followPoll = 5 * time.Second

// recordsCmd is `syncloop records <id> [--after CURSOR] [--limit N]
// [--follow] [--json]`: the object's change feed, as GET …/records serves
// it. It needs only PostgreSQL: the feed is read from records, and
// --follow wakes on LISTEN syncloop_changes (the CLI talks to the database
// directly, as every command does), reading again at least every 5s,
// since a notification is only a wake-up call.
func recordsCmd() *cobra.Command {
	var after string
	var limit int
	var follow, asJSON bool
	cmd := &cobra.Command{
		Use:   "records <tenant>/<provider>/<object_type>",
		Short: "Print the object's change feed: new, changed and deleted records after a cursor, oldest first",
		Long: `Print the object's change feed: every record at the position of its last
change, in its latest state (a record changed twice appears once, with its
newest data; an unchanged one never appears). Entries go to standard output,
as a table or (--json) one JSON object per line; the cursor to resume from
goes to standard error as the last line, "next cursor: <cursor>". Pass it
back with --after to read on: nothing is skipped and nothing repeated.

Without --follow, one read of up to --limit entries; with --follow, every
entry as it is committed, until Ctrl-C (exit 0).`,
		Example: "syncloop records acme/demo/accounts --follow --json",
		Args:    exactArgs(1, "one object ID"),
		RunE: func(c *cobra.Command, args []string) error {
			k, err := control.ParseKey(args[0])
			if err != nil {
				return err
			}
			if limit < 1 || limit > control.MaxFeedLimit {
				return &control.InputError{Err: fmt.Errorf("--limit %d is out of range: use 1 to %d", limit, control.MaxFeedLimit)}
			}
			cursor, err := control.ParseFeedCursor(after)
			if err != nil {
				return &control.InputError{Err: fmt.Errorf("--after: %w", err)}
			}
			return withStore(c, func(ctx context.Context, svc *control.Service) error {
				out := feedPrinter{w: c.OutOrStdout(), json: asJSON}
				var next string
				if !follow {
					p, err := svc.Records(ctx, k, cursor, limit)
					if err != nil {
						return err
					}
					out.page(p)
					printNextCursor(c.ErrOrStderr(), p.NextCursor, p.HasMore)
					return nil
				}
				err := svc.FollowRecords(ctx, k, cursor, control.FollowOptions{Limit: limit, Poll: followPoll}, func(p control.FeedPage) error {
					next = p.NextCursor
					return out.page(p)
				})
				if next != "" {
					printNextCursor(c.ErrOrStderr(), next, false)
				}
				if errors.Is(err, context.Canceled) && ctx.Err() != nil {
					return nil // Ctrl-C
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "read after this cursor (the \"next cursor\" of an earlier run); none: from the beginning")
	cmd.Flags().IntVar(&limit, "limit", control.DefaultFeedLimit, fmt.Sprintf("entries per read (1 to %d)", control.MaxFeedLimit))
	cmd.Flags().BoolVar(&follow, "follow", false, "keep reading as changes are committed, until Ctrl-C")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per entry and line (as in GET …/records)")
	return cmd
}

// withStore runs fn with a Service over PostgreSQL only (no Temporal),
// opened after the arguments were validated.
func withStore(c *cobra.Command, fn func(ctx context.Context, svc *control.Service) error) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	st, err := store.Open(c.Context(), cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	// The key decrypts connections for the commands that ask a provider
	// (connections objects, objects fields); without one they report
	// that they need it.
	box, err := secrets.FromKey(cfg.SecretKey)
	if err != nil && !errors.Is(err, secrets.ErrNoKey) {
		return err
	}
	return cliError(fn(c.Context(), &control.Service{Store: st, TaskQueue: cfg.TaskQueue, Secrets: box}))
}

func printNextCursor(w io.Writer, cursor string, more bool) {
	if more {
		fmt.Fprintf(w, "next cursor: %s (more entries follow: run again with --after %s)\n", cursor, cursor)
		return
	}
	fmt.Fprintf(w, "next cursor: %s\n", cursor)
}

// feedPrinter prints entries as a table (its header once) or as JSON
// lines.
type feedPrinter struct {
	w      io.Writer
	json   bool
	reads  int
	header bool
}

func (f *feedPrinter) page(p control.FeedPage) error {
	f.reads++
	if f.json {
		enc := json.NewEncoder(f.w)
		enc.SetEscapeHTML(false)
		for _, e := range p.Records {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(p.Records) == 0 {
		if f.reads == 1 {
			fmt.Fprintln(f.w, "no changes after this cursor yet")
		}
		return nil
	}
	if !f.header {
		f.header = true
		fmt.Fprintf(f.w, "%-8s %-6s %-20s %-20s %s\n", "KIND", "CYCLE", "SYNCED", "EXTERNAL ID", "DATA")
	}
	for _, e := range p.Records {
		data := "-"
		if e.Kind != model.FeedDeleted {
			data = clipRunes(string(e.Data), 80)
		}
		fmt.Fprintf(f.w, "%-8s #%-5d %-20s %-20s %s\n", e.Kind, e.Cycle, e.SyncedAt.UTC().Format(time.RFC3339), e.ExternalID, data)
	}
	return nil
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
