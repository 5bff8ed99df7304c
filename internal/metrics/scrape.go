package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descSandboxes = prometheus.NewDesc("hutch_sandboxes", "Sandboxes not deleted, by organisation and state.",
		[]string{"org", "state"}, nil)
	descCPU = prometheus.NewDesc("hutch_sandboxes_cpu", "CPUs the sandboxes of each state hold (their limits, summed).",
		[]string{"state"}, nil)
	descMemory = prometheus.NewDesc("hutch_sandboxes_memory_bytes", "Memory the sandboxes of each state hold (their limits, summed).",
		[]string{"state"}, nil)
	descDisk = prometheus.NewDesc("hutch_sandboxes_disk_bytes", "Disk the sandboxes of each state may fill (their limits, summed).",
		[]string{"state"}, nil)
	descHostCPU        = prometheus.NewDesc("hutch_host_cpus", "CPUs of this machine.", nil, nil)
	descHostMemory     = prometheus.NewDesc("hutch_host_memory_bytes", "Memory of this machine.", nil, nil)
	descHostFreeDisk   = prometheus.NewDesc("hutch_host_disk_free_bytes", "Free space of the data dir's file system.", nil, nil)
	descHostCPUUsed    = prometheus.NewDesc("hutch_host_cpu_used_ratio", "CPUs held by running and paused sandboxes over this machine's CPUs.", nil, nil)
	descHostMemoryUsed = prometheus.NewDesc("hutch_host_memory_used_ratio", "Memory held by running and paused sandboxes over this machine's memory.", nil, nil)
	descScrapeErrors   = prometheus.NewDesc("hutch_metrics_source_errors", "1 when a source of this scrape failed (the log says why).", []string{"source"}, nil)
)

// scraped is the collector of what is read at each scrape.
type scraped struct {
	src Sources
	log *slog.Logger
}

func (c *scraped) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSandboxes, descCPU, descMemory, descDisk, descHostCPU, descHostMemory,
		descHostFreeDisk, descHostCPUUsed, descHostMemoryUsed, descScrapeErrors, descPoolSize, descPoolReady, descPoolFailures} {
		ch <- d
	}
}

// holding are the states whose sandboxes hold CPU and memory.
var holding = map[string]bool{"running": true, "paused": true, "pausing": true, "resuming": true, "creating": true, "starting": true}

func (c *scraped) Collect(ch chan<- prometheus.Metric) {
	if c.src.Pools != nil {
		collectPools(ch, c.src.Pools())
	}
	var cpuHeld, memHeld float64
	if c.src.Sandboxes != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		counts, err := c.src.Sandboxes(ctx)
		cancel()
		failed := 0.0
		if err != nil {
			c.log.Warn("metrics: count sandboxes", "err", err)
			failed = 1
		}
		ch <- prometheus.MustNewConstMetric(descScrapeErrors, prometheus.GaugeValue, failed, "sandboxes")
		type sums struct{ cpu, mem, disk float64 }
		byState := map[string]*sums{}
		for _, n := range counts {
			ch <- prometheus.MustNewConstMetric(descSandboxes, prometheus.GaugeValue, float64(n.Count), n.Org, n.State)
			s := byState[n.State]
			if s == nil {
				s = &sums{}
				byState[n.State] = s
			}
			s.cpu += n.CPU
			s.mem += float64(n.MemoryMB) * (1 << 20)
			s.disk += float64(n.DiskMB) * (1 << 20)
			if holding[n.State] {
				cpuHeld += n.CPU
				memHeld += float64(n.MemoryMB) * (1 << 20)
			}
		}
		for state, s := range byState {
			ch <- prometheus.MustNewConstMetric(descCPU, prometheus.GaugeValue, s.cpu, state)
			ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, s.mem, state)
			ch <- prometheus.MustNewConstMetric(descDisk, prometheus.GaugeValue, s.disk, state)
		}
	}
	if c.src.Host != nil {
		h := c.src.Host()
		ch <- prometheus.MustNewConstMetric(descHostCPU, prometheus.GaugeValue, h.CPU)
		ch <- prometheus.MustNewConstMetric(descHostMemory, prometheus.GaugeValue, float64(h.MemoryMB)*(1<<20))
		ch <- prometheus.MustNewConstMetric(descHostFreeDisk, prometheus.GaugeValue, float64(h.FreeDiskMB)*(1<<20))
		if h.CPU > 0 {
			ch <- prometheus.MustNewConstMetric(descHostCPUUsed, prometheus.GaugeValue, cpuHeld/h.CPU)
		}
		if h.MemoryMB > 0 {
			ch <- prometheus.MustNewConstMetric(descHostMemoryUsed, prometheus.GaugeValue, memHeld/(float64(h.MemoryMB)*(1<<20)))
		}
	}
}
