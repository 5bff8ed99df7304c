package bench

import (
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		want    Summary
	}{
		{"none", nil, Summary{}},
		{"one", ms(7), Summary{N: 1, Min: ms(7)[0], P50: ms(7)[0], P90: ms(7)[0], P99: ms(7)[0], Max: ms(7)[0], Mean: ms(7)[0]}},
		// Out of order on purpose: ranks count in sorted order.
		{"ten", ms(10, 1, 9, 2, 8, 3, 7, 4, 6, 5), Summary{N: 10, Min: ms(1)[0], P50: ms(5)[0], P90: ms(9)[0], P99: ms(10)[0], Max: ms(10)[0], Mean: 5500 * time.Microsecond}},
		{"hundred", func() []time.Duration {
			var s []time.Duration
			for i := 100; i >= 1; i-- {
				s = append(s, time.Duration(i)*time.Millisecond)
			}
			return s
		}(), Summary{N: 100, Min: ms(1)[0], P50: ms(50)[0], P90: ms(90)[0], P99: ms(99)[0], Max: ms(100)[0], Mean: 50500 * time.Microsecond}},
		{"even pair", ms(2, 4), Summary{N: 2, Min: ms(2)[0], P50: ms(2)[0], P90: ms(4)[0], P99: ms(4)[0], Max: ms(4)[0], Mean: ms(3)[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.samples...)
			if got := Summarize(tc.samples); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
			for i := range in {
				if in[i] != tc.samples[i] {
					t.Fatal("Summarize reordered its input")
				}
			}
		})
	}
}
