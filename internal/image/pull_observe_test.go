package image

import (
	"testing"
	"time"
)

// TestPullObserver: every pull, the failed one too, is reported once
// with its outcome.
func TestPullObserver(t *testing.T) {
	reg := startRegistry(t, nil)
	reg.push(t, "app:v1", whiteoutImage(t))
	var got []error
	s := newStore(t, WithPullObserver(func(d time.Duration, err error) {
		if d <= 0 {
			t.Errorf("pull reported a duration of %v", d)
		}
		got = append(got, err)
	}))
	if _, err := s.Pull(bg(), reg.ref("app:v1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(bg(), reg.ref("missing:v1")); err == nil {
		t.Fatal("a missing image pulled")
	}
	if len(got) != 2 || got[0] != nil || got[1] == nil {
		t.Fatalf("observed %v, want one success then one failure", got)
	}
}
