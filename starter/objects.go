package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
	"github.com/syncloop/syncloop/workflows"
)

func objectsCmd() *cobra.Command {
	cmd := groupCommand(&cobra.Command{Use: "objects", Short: "Add, inspect and control integration objects"})
	cmd.AddCommand(addCmd(), listCmd(), showCmd(), fieldsCmd(), setFieldsCmd(), setWebhookKindsCmd(), setIntervalCmd(),
		loopUpdateCmd("pause", "Stop starting new cycles (a running cycle finishes)", (*control.Service).Pause),
		loopUpdateCmd("resume", "Start cycles again; an overdue cycle starts at once", (*control.Service).Resume),
		syncNowCmd(), restartCmd(), removeCmd())
	return cmd
}

func addCmd() *cobra.Command {
	var interval, connection, webhookKinds string
	var fields []string
	cmd := &cobra.Command{
		Use:     "add <tenant>/<provider>/<object_type>",
		Short:   "Add an object and start its sync loop (adding twice is harmless)",
		Example: "syncloop objects add acme/demo/accounts --interval 30m",
		Args:    exactArgs(1, "one object ID"),
		RunE: func(c *cobra.Command, args []string) error {
			k, err := control.ParseKey(args[0])
			if err != nil {
				return err
			}
			d, err := model.ParseInterval(interval)
			if err != nil {
				return &control.InputError{Err: err}
			}
			if !c.Flags().Changed("interval") {
				d = 0 // the default for a new object; no change asked of an existing one
			}
			return withService(c, func(ctx context.Context, svc *control.Service) error {
				req := control.AddRequest{Key: k, Interval: d, Connection: connection, Fields: fields}
				if c.Flags().Changed("webhook-kinds") {
					req.WebhookKinds = parseKinds(webhookKinds)
				}
				obj, created, err := svc.Add(ctx, req)
				if err != nil {
					return err
				}
				if created {
					fmt.Fprintf(c.OutOrStdout(), "added %s (every %s); its loop %s is running the initial sync\n", k, model.FormatInterval(obj.Interval), k.WorkflowID())
				} else {
					fmt.Fprintf(c.OutOrStdout(), "%s already exists (every %s); its loop %s is running\n", k, model.FormatInterval(obj.Interval), k.WorkflowID())
				}
				if n := control.AddNotice(req, obj, created, fmt.Sprintf("`syncloop objects set-interval %s %s`", k, model.FormatInterval(d))); n != "" {
					fmt.Fprintln(c.ErrOrStderr(), "syncloop: "+n)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&interval, "interval", model.FormatInterval(model.DefaultInterval), "time between the end of one cycle and the start of the next (1m to 7d)")
	cmd.Flags().StringVar(&connection, "connection", "", "name of the provider connection (a row in the connections table); demo objects need none")
	cmd.Flags().StringVar(&webhookKinds, "webhook-kinds", "", "notification kinds this object's webhook posts (stale,recovered,failing,cycle.completed, or none; default: SYNCLOOP_WEBHOOK_KINDS)")
	cmd.Flags().StringSliceVar(&fields, "fields", nil, "sync only these fields (comma-separated API names; default: every field the provider lets the connection read); see `syncloop objects fields`")
	return cmd
}

func fieldsCmd() *cobra.Command {
	var connection string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fields <tenant>/<provider>/<object_type>",
		Short: "List the fields of an object's type as the provider describes them, with types, and which are synced",
		Long: "Lists the fields the provider lets the connection read, with the provider's type and syncloop's kind. " +
			"SYNCED marks the object's field list, or the provider's default fields when it has none. " +
			"For an object not added yet, --connection names the connection to ask.",
		Example: "syncloop objects fields acme/salesforce/widget__c --connection acme-sf",
		Args:    exactArgs(1, "one object ID"),
		RunE: func(c *cobra.Command, args []string) error {
			k, err := control.ParseKey(args[0])
			if err != nil {
				return err
			}
			return withStore(c, func(ctx context.Context, svc *control.Service) error {
				fields, err := svc.ObjectFields(ctx, k, connection)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(c.OutOrStdout(), fields)
				}
				printFields(c.OutOrStdout(), fields)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&connection, "connection", "", "the connection to ask, for an object not added yet")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func setFieldsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set-fields <tenant>/<provider>/<object_type> [field,field,...]",
		Short: "Change the fields an object syncs (none: the provider's default list); replaces its typed view and runs a full cycle",
		Long: "Changes the fields an object syncs, after the provider confirms the connection can read each; " +
			"without a field list the object goes back to the provider's default list. The typed view is replaced at once " +
			"and the next cycle, started now, is a full one that reads every record with the new list.",
		Example: "syncloop objects set-fields acme/salesforce/accounts Name,Industry,AnnualRevenue",
		Args:    rangeArgs(1, 2, "an object ID and optionally a comma-separated field list"),
		RunE: func(c *cobra.Command, args []string) error {
			k, err := control.ParseKey(args[0])
			if err != nil {
				return err
			}
			var fields []string
			if len(args) == 2 {
				fields = splitList(args[1])
			}
			return withService(c, func(ctx context.Context, svc *control.Service) error {
				obj, err := svc.SetFields(ctx, k, fields)
				if err != nil {
					return err
				}
				what := "the provider's default list"
				if len(obj.Fields) > 0 {
					what = strings.Join(obj.Fields, ", ")
				}
				fmt.Fprintf(c.OutOrStdout(), "%s now syncs %s; view %s.%s replaced; a full cycle is running\n", k, what, store.ViewsSchema, store.ViewName(k))
				return nil
			})
		},
	}
}

// splitList reads a comma-separated list, spaces and empty items left
// out.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseKinds reads a --webhook-kinds value: "none" (or "") is no kind.
func parseKinds(v string) []string {
	kinds := []string{} // not nil: nil is the worker's kinds
	for _, k := range splitList(v) {
		if k != "none" {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

func setWebhookKindsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set-webhook-kinds <tenant>/<provider>/<object_type> [kind,kind,...|none]",
		Short: "Choose which notifications this object's webhook posts (without a list: SYNCLOOP_WEBHOOK_KINDS again)",
		Long: "Kinds: stale, recovered, failing, cycle.completed; `none` posts nothing for this object. " +
			"Notifications are still recorded in the notifications table and logged.",
		Example: "syncloop objects set-webhook-kinds acme/demo/accounts failing,cycle.completed",
		Args:    rangeArgs(1, 2, "an object ID and optionally a comma-separated list of kinds"),
		RunE: func(c *cobra.Command, args []string) error {
			k, err := control.ParseKey(args[0])
			if err != nil {
				return err
			}
			var kinds []string // the worker's
			if len(args) == 2 {
				kinds = parseKinds(args[1])
			}
			if err := control.CheckWebhookKinds(kinds); err != nil {
				return err
			}
			return withStore(c, func(ctx context.Context, svc *control.Service) error {
				obj, err := svc.SetWebhookKinds(ctx, k, kinds)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: webhook posts %s\n", k, kindsLabel(obj.WebhookKinds))
				return nil
			})
		},
	}
}

func kindsLabel(kinds []string) string {
	switch {
	case kinds == nil:
		return "the worker's kinds (SYNCLOOP_WEBHOOK_KINDS)"
	case len(kinds) == 0:
		return "nothing"
	}
	return strings.Join(kinds, ", ")
}

func printFields(w io.Writer, fields []control.SyncedField) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tTYPE\tKIND\tSYNCED\tNOTE")
	for _, f := range fields {
		synced := "no"
		if f.Synced {
			synced = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.Type, f.Kind, synced, f.Excluded)
	}
	tw.Flush()
}

func listCmd() *cobra.Command {
	return reportCmd("list", "List objects with their loop state and last cycle", "syncloop objects list", listObjects,
		func(w io.Writer, objs []control.ObjectView) { printObjects(w, objs) })
}

// listObjects is List, except that a database without objects while
// loops run on the task queue is an error naming the fix: it is not the
// worker's database, and "no objects yet" would mislead.
func listObjects(svc *control.Service, ctx context.Context) ([]control.ObjectView, error) {
	objs, err := svc.List(ctx)
	if err != nil || len(objs) > 0 {
		return objs, err
	}
	if err := svc.CheckDatabase(ctx); err != nil {
		return nil, err
	}
	return objs, nil
}

// reportCmd is a read-only command without arguments that prints a table,
// or JSON with --json.
func reportCmd[T any](use, short, example string, fetch func(*control.Service, context.Context) (T, error), print func(io.Writer, T)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			return withService(c, func(ctx context.Context, svc *control.Service) error {
				v, err := fetch(svc, ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(c.OutOrStdout(), v)
				}
				print(c.OutOrStdout(), v)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// objectCmd is a command on one object: it validates the ID (and any
// further arguments, in prepare) before connecting to anything.
func objectCmd(use, short, example string, extraArgs int, prepare func(args []string) error,
	run func(c *cobra.Command, ctx context.Context, svc *control.Service, k model.ObjectKey) error) *cobra.Command {
	what := "one object ID"
	if extraArgs > 0 {
		what = "an object ID and an interval"
	}
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    exactArgs(1+extraArgs, what),
		RunE: func(c *cobra.Command, args []string) error {
			k, err := control.ParseKey(args[0])
			if err != nil {
				return err
			}
			if prepare != nil {
				if err := prepare(args[1:]); err != nil {
					return err
				}
			}
			return withService(c, func(ctx context.Context, svc *control.Service) error { return run(c, ctx, svc, k) })
		},
	}
}

func printObjects(w io.Writer, objs []control.ObjectView) {
	if len(objs) == 0 {
		fmt.Fprintln(w, "no objects yet: add one with `syncloop objects add <tenant>/<provider>/<object_type>`")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tINTERVAL\tSTATE\tNEXT RUN\tLAST CYCLE\tLAST SUCCESS")
	for _, o := range objs {
		last := "-"
		if c := o.LastCycle; c != nil {
			last = fmt.Sprintf("#%d %s", c.Seq, c.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.Object, o.Interval, o.State, fmtTime(o.NextRunAt), last, fmtTime(o.LastSuccessAt))
	}
	tw.Flush()
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func showCmd() *cobra.Command {
	var asJSON, watch bool
	var cycles int
	cmd := objectCmd("show <tenant>/<provider>/<object_type>", "Show an object, its live loop status and its recent cycles",
		"syncloop objects show acme/demo/accounts", 0,
		func([]string) error {
			if cycles < 0 || cycles > 1000 {
				return &control.InputError{Err: fmt.Errorf("--cycles %d is out of range: use 0 to 1000", cycles)}
			}
			return nil
		},
		func(c *cobra.Command, ctx context.Context, svc *control.Service, k model.ObjectKey) error {
			if watch {
				return watchCycle(ctx, c.OutOrStdout(), svc, k, time.Second)
			}
			v, err := svc.Show(ctx, k, cycles)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.OutOrStdout(), v)
			}
			printObject(c.OutOrStdout(), v)
			return nil
		})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&cycles, "cycles", 10, "how many recent cycles to show")
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the running cycle's progress until it ends (with none running, wait for the next)")
	return cmd
}

// watchCycle follows an object's cycle until it ends: the running one, or
// else (printing what it waits for and when the next run is due) the next
// one to start. Progress comes from the cycle's sync_cycles row, where
// Retrieve commits the pages and records of each page group, read every
// tick: it moves with every page group without any extra heartbeat. Ctrl-C
// (ctx cancelled) stops watching without an error.
func watchCycle(ctx context.Context, w io.Writer, svc *control.Service, k model.ObjectKey, every time.Duration) error {
	err := followCycle(ctx, w, svc, k, every)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

func followCycle(ctx context.Context, w io.Writer, svc *control.Service, k model.ObjectKey, every time.Duration) error {
	st, err := svc.LoopStatus(ctx, k)
	if errors.Is(err, control.ErrLoopNotRunning) {
		return fmt.Errorf("the loop of %s is not running, so no cycle will start: `syncloop objects sync-now %s` starts it with a cycle", k, k)
	}
	if err != nil {
		return err
	}
	c, err := svc.LatestCycle(ctx, k)
	if err != nil {
		return err
	}
	tick := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
			return nil
		}
	}
	// The newest row is the running cycle's, or the starting one's (the
	// loop has not had its number back yet); otherwise wait for a cycle
	// newer than the newest row.
	if cur := st.CurrentCycle; c == nil || c.Status.Final() || cur == nil || (cur.Seq != c.Seq && cur.Seq != 0) {
		after := 0
		if c != nil {
			after = c.Seq
		}
		fmt.Fprintln(w, waitingFor(k, st, time.Now()))
		for {
			if err := tick(); err != nil {
				fmt.Fprintln(w, "stopped waiting: no cycle started")
				return err
			}
			if c, err = svc.LatestCycle(ctx, k); err != nil {
				return err
			}
			if c != nil && c.Seq > after {
				break
			}
		}
	}
	id, seq := c.ID, c.Seq
	width := 0
	for {
		cycle, p, err := svc.CycleProgress(ctx, k, id)
		if err != nil {
			fmt.Fprintln(w)
			return err
		}
		if cycle.Status.Final() {
			fmt.Fprintln(w)
			printCycleEnd(w, cycle)
			return nil
		}
		line := progressLine(cycle, p, time.Now())
		pad := max(width-len(line), 0)
		width = len(line)
		fmt.Fprintf(w, "\r%s%s", line, strings.Repeat(" ", pad))
		if err := tick(); err != nil {
			fmt.Fprintf(w, "\nstopped watching: cycle #%d is still running\n", seq)
			return err
		}
	}
}

// waitingFor says what --watch waits for when no cycle is running.
func waitingFor(k model.ObjectKey, st workflows.LoopStatus, now time.Time) string {
	if st.CurrentCycle != nil {
		return fmt.Sprintf("a cycle of %s is starting; waiting for it (Ctrl-C stops)", k)
	}
	line := fmt.Sprintf("no cycle of %s is running (state %s); waiting for the next one", k, st.State)
	switch {
	case st.NextRunAt != nil && st.NextRunAt.After(now):
		line += fmt.Sprintf(", due %s (in %s)", fmtTime(st.NextRunAt), st.NextRunAt.Sub(now).Round(time.Second))
	case st.NextRunAt != nil:
		line += ", due now"
	case st.State == workflows.StatePaused:
		line += fmt.Sprintf(", none is due until `syncloop objects resume %s`", k)
	case st.State == workflows.StateDisabled:
		line += ", none is due until `syncloop sync on`"
	}
	return line + fmt.Sprintf("; `syncloop objects sync-now %s` starts one (Ctrl-C stops)", k)
}

// progressLine is one --watch line of a running cycle.
func progressLine(c store.Cycle, p *workflows.CycleProgress, now time.Time) string {
	var ran time.Duration
	if c.StartedAt != nil {
		ran = max(now.Sub(*c.StartedAt), 0)
	}
	line := fmt.Sprintf("cycle #%d (%s) running %s", c.Seq, c.Trigger, ran.Round(time.Second))
	if p == nil {
		p = &workflows.CycleProgress{Pages: c.Pages, Records: c.Counts.Retrieved}
	}
	line += ": " + model.Plural(p.Pages, "page") + ", " + model.Plural(p.Records, "record")
	if secs := ran.Seconds(); secs > 0 && p.Records > 0 {
		line += fmt.Sprintf(" (%.0f rec/s)", float64(p.Records)/secs)
	}
	if p.Attempt > 1 {
		line += fmt.Sprintf(", attempt %d after: %s", p.Attempt, p.LastFailure)
	}
	return line
}

// printCycleEnd is --watch's last line: how the cycle ended.
func printCycleEnd(w io.Writer, c store.Cycle) {
	dur := "-"
	if c.StartedAt != nil && c.EndedAt != nil {
		dur = c.EndedAt.Sub(*c.StartedAt).Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "cycle #%d %s in %s: %d new, %d changed, %d unchanged, %d deleted, %d rejected", c.Seq, c.Status, dur,
		c.Counts.New, c.Counts.Changed, c.Counts.Unchanged, c.Counts.Deleted, c.Counts.Rejected)
	if c.Error != "" {
		fmt.Fprintf(w, " — %s", c.Error)
	}
	fmt.Fprintln(w)
}

func printObject(w io.Writer, v control.ObjectView) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "object\t%s\n", v.Object)
	fmt.Fprintf(tw, "interval\t%s\n", v.Interval)
	fmt.Fprintf(tw, "state\t%s\n", v.State)
	fmt.Fprintf(tw, "next run\t%s\n", fmtTime(v.NextRunAt))
	fmt.Fprintf(tw, "cursor\t%s\n", fmtTime(v.Cursor))
	fmt.Fprintf(tw, "last success\t%s\n", fmtTime(v.LastSuccessAt))
	fmt.Fprintf(tw, "records\t%d live, %d deleted\n", v.Records, v.DeletedRecords)
	fields := "the provider's default list (see `syncloop objects fields " + v.Object + "`)"
	if len(v.Fields) > 0 {
		fields = strings.Join(v.Fields, ", ")
	}
	fmt.Fprintf(tw, "fields\t%s\n", fields)
	fmt.Fprintf(tw, "typed view\t%s\n", v.View)
	fmt.Fprintf(tw, "webhook kinds\t%s\n", kindsLabel(v.WebhookKinds))
	if l := v.Loop; l != nil {
		fmt.Fprintf(tw, "consecutive failures\t%d\n", l.ConsecutiveFailures)
		if l.PendingTrigger != nil {
			fmt.Fprintf(tw, "pending trigger\t%s %s\n", l.PendingTrigger.Trigger, l.PendingTrigger.Reason)
		}
		if c := l.CurrentCycle; c != nil {
			fmt.Fprintf(tw, "current cycle\t#%d (%s) since %s\n", c.Seq, c.Trigger, c.StartedAt.UTC().Format(time.RFC3339))
		}
	}
	tw.Flush()
	if len(v.Cycles) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CYCLE\tTRIGGER\tSTATUS\tSTARTED\tDURATION\tNEW\tCHANGED\tUNCHANGED\tDELETED\tREJECTED\tERROR")
	for _, c := range v.Cycles {
		dur := "-"
		if c.StartedAt != nil && c.EndedAt != nil {
			dur = c.EndedAt.Sub(*c.StartedAt).Round(time.Millisecond).String()
		}
		kind := string(c.Trigger)
		if c.Full {
			kind += " (full)"
		}
		fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", c.Seq, kind, c.Status, fmtTime(c.StartedAt), dur,
			c.Counts.New, c.Counts.Changed, c.Counts.Unchanged, c.Counts.Deleted, c.Counts.Rejected, c.Error)
	}
	tw.Flush()
}

func setIntervalCmd() *cobra.Command {
	var d time.Duration
	return objectCmd("set-interval <tenant>/<provider>/<object_type> <interval>", "Change an object's interval; the loop re-arms its timer at once",
		"syncloop objects set-interval acme/demo/accounts 30m", 1,
		func(args []string) (err error) {
			if d, err = model.ParseInterval(args[0]); err != nil {
				return &control.InputError{Err: err}
			}
			return nil
		},
		loopUpdate("interval set", func(svc *control.Service, ctx context.Context, k model.ObjectKey) (workflows.LoopStatus, error) {
			return svc.SetInterval(ctx, k, d)
		}))
}

func loopUpdateCmd(verb, short string, op func(*control.Service, context.Context, model.ObjectKey) (workflows.LoopStatus, error)) *cobra.Command {
	return objectCmd(verb+" <tenant>/<provider>/<object_type>", short, "syncloop objects "+verb+" acme/demo/accounts", 0, nil, loopUpdate(verb+"d", op))
}

// loopUpdate runs an operation that answers with the loop's status.
func loopUpdate(done string, op func(*control.Service, context.Context, model.ObjectKey) (workflows.LoopStatus, error)) func(*cobra.Command, context.Context, *control.Service, model.ObjectKey) error {
	return func(c *cobra.Command, ctx context.Context, svc *control.Service, k model.ObjectKey) error {
		st, err := op(svc, ctx, k)
		if err != nil {
			return err
		}
		printLoop(c.OutOrStdout(), done, st)
		return nil
	}
}

func syncNowCmd() *cobra.Command {
	var reason string
	cmd := objectCmd("sync-now <tenant>/<provider>/<object_type>", "Start a cycle now (if one is running, one more runs right after it)",
		"syncloop objects sync-now acme/demo/accounts --reason 'fixed mapping'", 0, nil,
		loopUpdate("sync requested", func(svc *control.Service, ctx context.Context, k model.ObjectKey) (workflows.LoopStatus, error) {
			return svc.SyncNow(ctx, k, reason)
		}))
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the trigger")
	return cmd
}

func removeCmd() *cobra.Command {
	return objectCmd("remove <tenant>/<provider>/<object_type>", "Stop the loop and delete the object with its cycles and records",
		"syncloop objects remove acme/demo/accounts", 0, nil,
		func(c *cobra.Command, ctx context.Context, svc *control.Service, k model.ObjectKey) error {
			if err := svc.Remove(ctx, k); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "removed %s: loop stopped, object, cycles and records deleted\n", k)
			return nil
		})
}

func printLoop(w io.Writer, what string, st workflows.LoopStatus) {
	parts := []string{fmt.Sprintf("%s: %s", what, st.Object), "interval " + st.Interval, "state " + st.State}
	if st.NextRunAt != nil {
		parts = append(parts, "next run "+fmtTime(st.NextRunAt))
	}
	if st.PendingTrigger != nil {
		parts = append(parts, "a cycle is queued")
	}
	fmt.Fprintln(w, strings.Join(parts, ", "))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func statusCmd() *cobra.Command {
	return reportCmd("status", "Overall sync status (the same content as REST GET /sync/v1/status)", "syncloop status", (*control.Service).SyncStatus, printSyncStatus)
}

func printSyncStatus(w io.Writer, st control.SyncStatus) {
	fmt.Fprintf(w, "sync: %s\n", map[bool]string{true: "on", false: "off (no new cycles; `syncloop sync on` resumes)"}[st.Enabled])
	if ws := st.ScheduledWatcher; ws != nil {
		switch {
		case !ws.Exists:
			fmt.Fprintf(w, "watcher: schedule %s %s\n", ws.ID, ws.Note)
		default:
			state := "active"
			if ws.Paused {
				state = "paused"
			}
			line := fmt.Sprintf("watcher: schedule %s every %s, %s, next run %s", ws.ID, ws.Every, state, fmtTime(ws.NextRunAt))
			if r := ws.LastRun; r != nil {
				line += fmt.Sprintf(", last run %s %s", r.StartedAt.UTC().Format(time.RFC3339), r.Status)
			}
			fmt.Fprintln(w, line)
		}
	}
	q := st.AsyncQueued
	fmt.Fprintf(w, "queued: %d (running %s; due %s; held %s)\n", q.Count, listOrDash(q.Running), listOrDash(q.Due), listOrDash(q.Held))
	if e := st.LastExecution; e != nil {
		fmt.Fprintf(w, "last execution: %s #%d %s (%s) started %s: %d new, %d changed, %d unchanged, %d deleted, %d rejected\n",
			e.Object, e.Seq, e.Status, e.Trigger, fmtTime(e.StartedAt), e.Counts.New, e.Counts.Changed, e.Counts.Unchanged, e.Counts.Deleted, e.Counts.Rejected)
	}
	fmt.Fprintln(w)
	if len(st.ScheduledRunner) == 0 {
		fmt.Fprintln(w, "no objects yet: add one with `syncloop objects add <tenant>/<provider>/<object_type>`")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tINTERVAL\tSTATE\tNEXT RUN\tLAST STATUS\tLAST SUCCESS")
	for _, r := range st.ScheduledRunner {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Object, r.Interval, r.State, fmtTime(r.NextRunAt), dash(r.LastStatus), fmtTime(r.LastSuccess))
	}
	tw.Flush()
}

func listOrDash(xs []string) string {
	if len(xs) == 0 {
		return "-"
	}
	return strings.Join(xs, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func syncCmd() *cobra.Command {
	cmd := groupCommand(&cobra.Command{Use: "sync", Short: "Turn the whole sync on or off"})
	for _, on := range []bool{true, false} {
		word := onOff(on)
		cmd.AddCommand(&cobra.Command{
			Use:     word,
			Short:   map[bool]string{true: "Resume every object and the watcher; objects that fell due start promptly", false: "Stop every object from starting new cycles and pause the watcher"}[on],
			Example: "syncloop sync " + word,
			Args:    exactArgs(0, "no arguments"),
			RunE: func(c *cobra.Command, _ []string) error {
				return withService(c, func(ctx context.Context, svc *control.Service) error {
					st, err := svc.SetEnabled(ctx, on)
					if err != nil {
						return err
					}
					printSyncStatus(c.OutOrStdout(), st)
					return nil
				})
			},
		})
	}
	return cmd
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func restartCmd() *cobra.Command {
	var force bool
	cmd := objectCmd("restart <tenant>/<provider>/<object_type>", "Replace the object's loop with a fresh one that syncs at once",
		"syncloop objects restart acme/demo/accounts --force", 0, nil,
		func(c *cobra.Command, ctx context.Context, svc *control.Service, k model.ObjectKey) error {
			v, err := svc.RestartObject(ctx, k, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "restarted %s: a new loop is running a cycle (trigger restart)\n", v.Object)
			return nil
		})
	cmd.Flags().BoolVar(&force, "force", false, "cancel a running cycle (recorded Failed, \"cancelled by restart\") instead of refusing")
	return cmd
}
