package api

import "time"

// SandboxMetrics is one reading of a sandbox's resource use, as its
// runtime reports it (GET /v1/sandboxes/{id}/metrics, and each event of
// its stream). CPUPercent is set in the stream only: the CPU time used
// since the previous reading over the time between them (100 = one core).
type SandboxMetrics struct {
	SandboxID        string    `json:"sandboxId"`
	State            string    `json:"state"`
	Time             time.Time `json:"time"`
	CPUSeconds       float64   `json:"cpuSeconds"`
	CPUPercent       *float64  `json:"cpuPercent,omitempty"`
	MemoryBytes      int64     `json:"memoryBytes"`
	MemoryLimitBytes int64     `json:"memoryLimitBytes"`
	Pids             int64     `json:"pids"`
	OOMKills         int64     `json:"oomKills"`
	// DiskBytes is what is used of the sandbox's disk (its writable
	// layer), DiskLimitBytes the disk's size.
	DiskBytes      int64 `json:"diskBytes"`
	DiskLimitBytes int64 `json:"diskLimitBytes"`
	// NetRxBytes and NetTxBytes are what the sandbox has received and
	// sent through its network interface since it booted (0 without
	// internet access; its loopback is not counted).
	NetRxBytes int64 `json:"netRxBytes"`
	NetTxBytes int64 `json:"netTxBytes"`
}

// RateLimit is one token bucket: burst requests at once, refilled at
// perSecond; perSecond 0 is no limit.
type RateLimit struct {
	PerSecond float64 `json:"perSecond"`
	Burst     int     `json:"burst"`
}

// RateLimitPair is the limits of one organisation: of each API key, and
// of all its keys together.
type RateLimitPair struct {
	PerKey RateLimit `json:"perKey"`
	PerOrg RateLimit `json:"perOrg"`
}

// RateLimitSettings is every limit (GET and PUT /v1/rate-limits, platform
// admin only): the default and the organisations with their own.
type RateLimitSettings struct {
	Default       RateLimitPair            `json:"default"`
	Organizations map[string]RateLimitPair `json:"organizations,omitempty"`
}
