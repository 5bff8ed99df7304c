package cli

import (
	"testing"
	"time"
)

func TestParseSeconds(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"300", 300, true}, {"0", 0, true}, {"5m", 300, true}, {"1h30m", 5400, true},
		{"-1", 0, false}, {"1.5s", 0, false}, {"-5m", 0, false}, {"soon", 0, false},
	}
	for _, tc := range cases {
		got, err := parseSeconds(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSeconds(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseMinutes(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"30", 30, true}, {"0", 0, true}, {"-1", -1, true}, {"2h", 120, true},
		{"-2", 0, false}, {"90s", 0, false}, {"x", 0, false},
	}
	for _, tc := range cases {
		got, err := parseMinutes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseMinutes(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, err := parseExpiry("30m", now); err != nil || !got.Equal(now.Add(30*time.Minute)) {
		t.Errorf("30m: %v %v", got, err)
	}
	if got, err := parseExpiry("2030-02-01T10:00:00+01:00", now); err != nil || got.UTC().Hour() != 9 {
		t.Errorf("rfc3339: %v %v", got, err)
	}
	for _, bad := range []string{"-5m", "0s", "tomorrow", "2030-02-01"} {
		if _, err := parseExpiry(bad, now); err == nil {
			t.Errorf("parseExpiry(%q) accepted", bad)
		}
	}
}

func TestAgeAndBytes(t *testing.T) {
	now := time.Now()
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5s", 3 * time.Minute: "3m", 47 * time.Hour: "47h", 72 * time.Hour: "3d", -time.Minute: "0s",
	} {
		if got := age(now.Add(-d), now); got != want {
			t.Errorf("age(%v) = %s, want %s", d, got, want)
		}
	}
	if age(time.Time{}, now) != "-" {
		t.Error("zero time should be -")
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := bytesHuman(n); got != want {
			t.Errorf("bytesHuman(%d) = %s, want %s", n, got, want)
		}
	}
}
