package metrics

import "github.com/prometheus/client_golang/prometheus"

// Pool is one warm pool at a scrape: how many prepared sandboxes the
// server keeps of an image on a runtime, and how many are ready.
type Pool struct {
	Image, Runtime string
	Size, Ready    int
}

// Pools are the warm pools and the prepares that failed since the
// server started.
type Pools struct {
	Pools    []Pool
	Failures int64
}

var (
	descPoolSize = prometheus.NewDesc("hutch_pool_size", "Prepared sandboxes the server keeps of an image on a runtime (warm pools).",
		[]string{"image", "runtime"}, nil)
	descPoolReady = prometheus.NewDesc("hutch_pool_ready", "Prepared sandboxes ready to be taken by a create.",
		[]string{"image", "runtime"}, nil)
	descPoolFailures = prometheus.NewDesc("hutch_pool_prepare_failures_total", "Prepares of pooled sandboxes that failed (the log says why).",
		nil, nil)
)

func collectPools(ch chan<- prometheus.Metric, p Pools) {
	for _, pl := range p.Pools {
		ch <- prometheus.MustNewConstMetric(descPoolSize, prometheus.GaugeValue, float64(pl.Size), pl.Image, pl.Runtime)
		ch <- prometheus.MustNewConstMetric(descPoolReady, prometheus.GaugeValue, float64(pl.Ready), pl.Image, pl.Runtime)
	}
	ch <- prometheus.MustNewConstMetric(descPoolFailures, prometheus.CounterValue, float64(p.Failures))
}
