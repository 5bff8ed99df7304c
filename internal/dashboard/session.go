package dashboard

import (
	"net/http"
	"time"

	"github.com/hutchdev/hutch/internal/gateway"
)

// Session is who the caller's key belongs to: the page signs in with it
// (a wrong key is the API's own 401) and shows the pages the key may use.
type Session struct {
	OrganizationID string `json:"organizationId"`
	KeyID          string `json:"keyId"`
	Admin          bool   `json:"admin"`
	PlatformAdmin  bool   `json:"platformAdmin"`
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) error {
	p := gateway.Principal(r.Context())
	writeJSON(w, http.StatusOK, Session{OrganizationID: p.OrganizationID, KeyID: p.KeyID, Admin: p.Admin, PlatformAdmin: p.PlatformAdmin()})
	return nil
}

// Stats is one reading of a sandbox's resource use, as its runtime
// reports it. The server keeps no history: the page draws the readings it
// took while it was open.
type Stats struct {
	SandboxID        string    `json:"sandboxId"`
	State            string    `json:"state"`
	Time             time.Time `json:"time"`
	CPUSeconds       float64   `json:"cpuSeconds"` // cumulative
	MemoryBytes      int64     `json:"memoryBytes"`
	MemoryLimitBytes int64     `json:"memoryLimitBytes"`
	Pids             int64     `json:"pids"`
	OOMKills         int64     `json:"oomKills"`
}

// stats reads a running or paused sandbox's use through the lifecycle
// service; other states are its 409. It is not activity: a page left open
// does not keep a sandbox from auto-stop.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request) error {
	p := gateway.Principal(r.Context())
	sb, st, err := h.Sandboxes.Stats(r.Context(), p.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Stats{SandboxID: sb.ID, State: string(sb.State), Time: time.Now().UTC(),
		CPUSeconds: st.CPUUsage.Seconds(), MemoryBytes: st.MemoryBytes, MemoryLimitBytes: st.MemoryLimit,
		Pids: st.Pids, OOMKills: st.OOMKills})
	return nil
}
