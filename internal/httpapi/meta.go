package httpapi

import (
	"net/http"

	"github.com/hutchdev/hutch/api"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil && !s.ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
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
		out.Capabilities = api.Capabilities{Pause: c.Pause, Archive: c.Archive, Network: c.Network, DiskLimit: c.DiskLimit, Agent: c.Agent}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
