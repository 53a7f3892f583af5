package devstack

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger sends the Temporal server's logs to a slog.Logger, keeping
// only records at or above min: the server is chatty at INFO, and a dev
// stack should show only what needs attention.
type serverLogger struct {
	l   *slog.Logger
	min *slog.LevelVar // shared by every derived logger
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func newServerLogger(l *slog.Logger, min slog.Level) serverLogger {
	v := new(slog.LevelVar)
	v.Set(min)
	return serverLogger{l: l.With("component", "temporal"), min: v}
}

// silenced is a level above every record: shutting down, the services
// complain at length about each other being gone, which is expected.
const silenced = slog.Level(1 << 20)

func (s serverLogger) silence() { s.min.Set(silenced) }

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if level < s.min.Level() || !s.l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), tagValue(t.Value())))
	}
	s.l.LogAttrs(context.Background(), level, msg, attrs...)
}

// tagValue renders errors and Stringers as text: JSON handlers would
// otherwise print most of them as {}.
func tagValue(v any) any {
	switch x := v.(type) {
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	return v
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.log(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.log(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
}

func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(msg)
}

// Fatal logs and panics instead of exiting, so that the stack's deferred
// clean-up (and a test's) still has a chance to run.
func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic("temporal server: " + msg)
}

func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	args := make([]any, 0, len(tags))
	for _, t := range tags {
		args = append(args, slog.Any(t.Key(), tagValue(t.Value())))
	}
	return serverLogger{l: s.l.With(args...), min: s.min}
}
