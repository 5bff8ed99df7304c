package api

import "time"

// DrainStatus is the server's drain (POST and GET /v1/admin/drain,
// platform admin only): once begun, creates, starts and resumes are
// refused (503) and every running sandbox that its runtime can checkpoint
// is paused with its memory on disk, to be resumed by the server's next
// start; one that cannot be is left running, with the reason.
type DrainStatus struct {
	Draining    bool        `json:"draining"`
	StartedAt   *time.Time  `json:"startedAt,omitempty"`
	FinishedAt  *time.Time  `json:"finishedAt,omitempty"`
	Total       int         `json:"total"`
	Done        int         `json:"done"`
	OnDisk      int         `json:"onDisk"`
	LeftRunning []DrainLeft `json:"leftRunning"`
}

// DrainLeft is a sandbox the drain left running, and why.
type DrainLeft struct {
	SandboxID string `json:"sandboxId"`
	Reason    string `json:"reason"`
}
