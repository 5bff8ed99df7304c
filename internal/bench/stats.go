package bench

import (
	"math"
	"slices"
	"time"
)

// Summary condenses the samples of one measurement. Percentiles use the
// nearest-rank method: p90 of 10 samples is the 9th smallest, a value
// that was measured, never an interpolation between two.
type Summary struct {
	N    int
	Min  time.Duration
	P50  time.Duration
	P90  time.Duration
	P99  time.Duration
	Max  time.Duration
	Mean time.Duration
}

// Summarize returns the summary of samples (which it does not change);
// the zero Summary when there are none.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{
		N:    len(s),
		Min:  s[0],
		P50:  percentile(s, 50),
		P90:  percentile(s, 90),
		P99:  percentile(s, 99),
		Max:  s[len(s)-1],
		Mean: sum / time.Duration(len(s)),
	}
}

// percentile is the nearest-rank p-th percentile of sorted, which is not
// empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}
