package democrm

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEpochClockKeepsTheFirstStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "epoch")
	first, err := EpochClock(path)
	if err != nil {
		t.Fatal(err)
	}
	epoch := first()
	if later := first(); later.Before(epoch) {
		t.Errorf("second reading %v is before the epoch %v", later, epoch)
	}
	again, err := EpochClock(path) // a restart
	if err != nil {
		t.Fatal(err)
	}
	if got := again(); !got.Equal(epoch) {
		t.Errorf("first reading after a restart = %v, want the saved epoch %v", got, epoch)
	}
	if got := again(); time.Since(got) > time.Minute {
		t.Errorf("later reading %v is not the real time", got)
	}
	if err := os.WriteFile(path, []byte("soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := EpochClock(path); err == nil {
		t.Error("EpochClock accepted a file without a time")
	}
}
