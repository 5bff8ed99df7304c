package httpapi

import (
	"net/http"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/runtime"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil && !s.ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := api.OpenAPIJSON()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	out := api.Info{Version: s.Version, Runtime: "none"}
	if rt := s.Sandboxes.Runtime(); rt != nil {
		c := rt.Capabilities()
		out.Runtime = rt.Name()
		_, agent := rt.(runtime.AgentDialer)
		out.Capabilities = api.Capabilities{Pause: c.Pause, Archive: c.Archive, Network: c.Network, DiskLimit: c.DiskLimit, Agent: agent}
	}
	writeJSON(w, http.StatusOK, out)
}
