package httpapi

import (
	"net/http"

	"github.com/hutchdev/hutch/api"
)

// healthz says that the process answers (liveness); whether it can create
// sandboxes is readyz's question.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether sandboxes can be created now (200) or not (503),
// with every check and, for each that fails, why and what fixes it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rd := api.Readiness{Status: api.ReadinessReady, Ready: true}
	switch {
	case s.Readiness != nil:
		rd = s.Readiness(r.Context())
	case s.ready != nil && !s.ready():
		rd = api.Readiness{Status: api.ReadinessStarting, Checks: []api.ReadinessCheck{{Name: "server", Message: "recovering sandboxes"}}}
	}
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, rd)
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	b, err := api.OpenAPIJSON()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	out := api.Info{Version: s.Version, Runtime: "none"}
	if name, c, ok := s.Sandboxes.RuntimeInfo(); ok {
		out.Runtime = name
		out.Capabilities = api.Capabilities{Pause: c.Pause, Archive: c.Archive, Network: c.Network, Ports: c.Ports, DiskLimit: c.DiskLimit, Agent: c.Agent,
			Checkpoint: c.Checkpoint}
	}
	for _, rd := range s.Sandboxes.Runtimes() {
		c := rd.Capabilities
		out.Runtimes = append(out.Runtimes, api.RuntimeInfo{Name: rd.Name, Driver: rd.Driver, Capabilities: api.Capabilities{
			Pause: c.Pause, Archive: c.Archive, Network: c.Network, Ports: c.Ports, DiskLimit: c.DiskLimit, Agent: c.Agent, Checkpoint: c.Checkpoint}})
		if rd.Default {
			out.DefaultRuntime = rd.Name
		}
	}
	out.Pools = []api.PoolInfo{}
	for _, p := range s.Sandboxes.Pools(r.Context()) {
		out.Pools = append(out.Pools, api.PoolInfo{Image: p.Image, Runtime: p.Runtime, Size: p.Size, Ready: p.Ready})
	}
	if s.RateLimits != nil {
		p := pairToAPI(s.RateLimits.Settings().For(principal(r.Context()).OrganizationID))
		out.RateLimits = &p
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
