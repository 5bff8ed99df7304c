package metrics_test

import (
	"testing"

	"github.com/hutchdev/hutch/internal/metrics"
)

func TestPoolSeries(t *testing.T) {
	m := metrics.New(metrics.Sources{Pools: func() metrics.Pools {
		return metrics.Pools{Pools: []metrics.Pool{{Image: "base", Runtime: "oci", Size: 2, Ready: 1}}, Failures: 3}
	}}, nil)
	fams := parse(t, m)
	size := find(fams, "hutch_pool_size", "image", "base", "runtime", "oci").GetGauge().GetValue()
	ready := find(fams, "hutch_pool_ready", "image", "base", "runtime", "oci").GetGauge().GetValue()
	if size != 2 || ready != 1 {
		t.Fatalf("pool size %v ready %v, want 2 and 1", size, ready)
	}
	if got := counter(fams, "hutch_pool_prepare_failures_total"); got != 3 {
		t.Fatalf("prepare failures %v, want 3", got)
	}
}
