package api

// Readiness is the body of GET /readyz: whether sandboxes can be created
// now and, when not, why and what fixes it. /healthz only says that the
// process answers.
type Readiness struct {
	// Status is "ready", "starting" (it will be, without anyone's help:
	// recovery or image seeding under way) or "unavailable" (an operator
	// must act: see each failing check's fix).
	Status string           `json:"status"`
	Ready  bool             `json:"ready"`
	Checks []ReadinessCheck `json:"checks"`
}

// ReadinessCheck is one condition of readiness.
type ReadinessCheck struct {
	// Name is "server" (store, recovery), "runtime", "dataDir" or "images".
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
	// Fix is what the operator runs or changes to pass the check.
	Fix    string      `json:"fix,omitempty"`
	Images []SeedImage `json:"images,omitempty"`
}

// SeedImage is the progress of one offline base image the server imports
// in the background on a fresh data dir.
type SeedImage struct {
	Name string `json:"name"`
	// State is "queued", "importing", "ready", "missing" (its tarball was
	// never built) or "failed".
	State      string `json:"state"`
	DoneBytes  int64  `json:"doneBytes,omitempty"`
	TotalBytes int64  `json:"totalBytes,omitempty"`
	// FromCache is true when the image was linked from the host's shared
	// image cache rather than unpacked.
	FromCache bool   `json:"fromCache,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Readiness statuses.
const (
	ReadinessReady       = "ready"
	ReadinessStarting    = "starting"
	ReadinessUnavailable = "unavailable"
)
