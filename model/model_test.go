package model

import (
	"strings"
	"testing"
	"time"
)

func TestParseInterval(t *testing.T) {
	good := map[string]time.Duration{
		"1m": time.Minute, "30m": 30 * time.Minute, "3h": 3 * time.Hour, "90m": 90 * time.Minute,
		"2d": 48 * time.Hour, "1d12h": 36 * time.Hour, "7d": 7 * 24 * time.Hour, " 5m ": 5 * time.Minute,
	}
	for in, want := range good {
		got, err := ParseInterval(in)
		if err != nil || got != want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-5m", "10y", "abc", "", "59s", "8d", "7d1s", "d", "-1d", "1.5d"} {
		_, err := ParseInterval(in)
		if err == nil {
			t.Errorf("ParseInterval(%q) succeeded; want error", in)
			continue
		}
		if !strings.Contains(err.Error(), "between 1m and 7d") {
			t.Errorf("ParseInterval(%q) error %q does not name the fix", in, err)
		}
	}
}

func TestFormatInterval(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3 * time.Hour: "3h", 90 * time.Minute: "1h30m", 36 * time.Hour: "1d12h", 45 * time.Second: "45s", 7 * 24 * time.Hour: "7d",
	} {
		if got := FormatInterval(d); got != want {
			t.Errorf("FormatInterval(%v) = %q; want %q", d, got, want)
		}
		if d >= MinInterval {
			if back, err := ParseInterval(want); err != nil || back != d {
				t.Errorf("round trip %q = %v, %v", want, back, err)
			}
		}
	}
}

func TestObjectKey(t *testing.T) {
	k, err := ParseObjectKey("acme/salesforce/accounts")
	if err != nil || k.WorkflowID() != "sync/acme/salesforce/accounts" {
		t.Fatalf("got %+v %v", k, err)
	}
	back, err := ParseWorkflowID(k.WorkflowID())
	if err != nil || back != k {
		t.Fatalf("ParseWorkflowID: %+v %v", back, err)
	}
	for _, bad := range []string{"", "acme", "acme/sf", "a/b/c/d", "ACME/sf/accounts", "acme//accounts", "acme/sf/acc ounts", strings.Repeat("a", 65) + "/b/c"} {
		if _, err := ParseObjectKey(bad); err == nil || !strings.Contains(err.Error(), "acme/salesforce/accounts") {
			t.Errorf("ParseObjectKey(%q) err = %v; want an error with an example", bad, err)
		}
	}
}

func TestCombineStatuses(t *testing.T) {
	c, f, p := StatusCompleted, StatusFailed, StatusPartiallyCompleted
	cases := []struct {
		in   []Status
		want Status
	}{
		{[]Status{c, c}, c}, {[]Status{f, f}, f}, {[]Status{c, f}, p}, {[]Status{p, c}, p}, {[]Status{f}, f}, {nil, f},
	}
	for _, tc := range cases {
		if got := CombineStatuses(tc.in...); got != tc.want {
			t.Errorf("CombineStatuses(%v) = %v; want %v", tc.in, got, tc.want)
		}
	}
}
