package model

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Interval bounds from DESIGN.md: per object, between 1m and 7d; 3h default.
const (
	MinInterval     = time.Minute
	MaxInterval     = 7 * 24 * time.Hour
	DefaultInterval = 3 * time.Hour
)

const intervalHint = "use a duration such as 30m, 3h or 2d, between 1m and 7d"

// ParseInterval parses an operator-supplied interval. It accepts Go
// durations ("90m", "1h30m") plus a day unit ("2d", "1d12h"), and enforces
// the bounds.
func ParseInterval(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("interval is empty: %s", intervalHint)
	}
	d, err := parseWithDays(s)
	if err != nil {
		return 0, fmt.Errorf("invalid interval %q: %s", s, intervalHint)
	}
	if d < MinInterval || d > MaxInterval {
		return 0, fmt.Errorf("interval %q is out of range: %s", s, intervalHint)
	}
	return d, nil
}

// ValidateInterval enforces [MinInterval, MaxInterval].
func ValidateInterval(d time.Duration) error {
	if d < MinInterval || d > MaxInterval {
		return fmt.Errorf("interval %s is out of range: %s", FormatInterval(d), intervalHint)
	}
	return nil
}

func parseWithDays(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 365 {
			return 0, fmt.Errorf("bad day count")
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return d, nil
	}
	return days + d, nil
}

// FormatInterval prints a duration the way operators write it: "3h",
// "90m", "2d", "1d12h", "45s".
func FormatInterval(d time.Duration) string {
	if d <= 0 {
		return d.String()
	}
	// strconv, not fmt.Fprintf: workflows call this, and workflowcheck
	// rightly distrusts writer-based formatting.
	var b strings.Builder
	unit := func(n time.Duration, suffix string) {
		b.WriteString(strconv.FormatInt(int64(n), 10))
		b.WriteString(suffix)
	}
	if days := d / (24 * time.Hour); days > 0 {
		unit(days, "d")
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		unit(h, "h")
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		unit(m, "m")
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(d.String())
	}
	return b.String()
}
