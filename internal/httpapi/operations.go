package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/ratelimit"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// RateLimits are the limits the platform admin reads and changes while
// the server runs; Set applies at once.
type RateLimits interface {
	Settings() ratelimit.Settings
	Set(ratelimit.Settings) error
}

// metricsInterval bounds the stream's ?interval.
const (
	minMetricsInterval     = 250 * time.Millisecond
	defaultMetricsInterval = 2 * time.Second
)

func (s *Server) registerOperations() {
	s.handle("GET", "/v1/sandboxes/{id}/metrics", s.authenticated(s.sandboxMetrics))
	s.handle("GET", "/v1/sandboxes/{id}/metrics/stream", s.authenticated(s.streamSandboxMetrics))
	s.handle("GET", "/v1/rate-limits", s.authenticated(s.getRateLimits))
	s.handle("PUT", "/v1/rate-limits", s.authenticated(s.putRateLimits))
}

// readMetrics reads a running or paused sandbox's use; it is not activity,
// so a dashboard or `hutch top` left open does not keep it from auto-stop.
func (s *Server) readMetrics(r *http.Request) (api.SandboxMetrics, time.Duration, error) {
	sb, st, err := s.Sandboxes.Stats(r.Context(), principal(r.Context()).OrganizationID, r.PathValue("id"))
	if err != nil {
		return api.SandboxMetrics{}, 0, err
	}
	return metricsOf(sb, st), st.CPUUsage, nil
}

func metricsOf(sb *sandbox.Sandbox, st sandbox.Stats) api.SandboxMetrics {
	return api.SandboxMetrics{SandboxID: sb.ID, State: string(sb.State), Time: time.Now().UTC(),
		CPUSeconds: st.CPUUsage.Seconds(), MemoryBytes: st.MemoryBytes, MemoryLimitBytes: st.MemoryLimit,
		Pids: st.Pids, OOMKills: st.OOMKills, DiskBytes: st.DiskBytes, DiskLimitBytes: st.DiskLimit,
		NetRxBytes: st.NetRxBytes, NetTxBytes: st.NetTxBytes}
}

func (s *Server) sandboxMetrics(w http.ResponseWriter, r *http.Request) error {
	m, _, err := s.readMetrics(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// streamSandboxMetrics sends a reading every ?interval (default 2s) as a
// server-sent event "metrics", each with the CPU percentage since the one
// before; it ends with an event "end" when the sandbox stops running.
func (s *Server) streamSandboxMetrics(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	interval := defaultMetricsInterval
	if v := q.Get("interval"); v != "" {
		if interval, err = time.ParseDuration(v); err != nil || interval < minMetricsInterval {
			return errdefs.InvalidField("interval", "must be a duration of at least %s, such as 2s", minMetricsInterval)
		}
	}
	first, cpu, err := s.readMetrics(r) // a sandbox that cannot be read is an error, not an empty stream
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) error {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		return rc.Flush()
	}
	zero := 0.0
	first.CPUPercent = &zero
	if err := send("metrics", first); err != nil {
		return nil
	}
	prev, prevCPU := first.Time, cpu
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-t.C:
		}
		m, cpu, err := s.readMetrics(r)
		if err != nil {
			_, code, msg := gateway.Describe(err)
			_ = send("end", api.ErrorDetail{Code: code, Message: msg, RequestID: requestID(r.Context())})
			return nil
		}
		if el := m.Time.Sub(prev); el > 0 {
			pct := float64(cpu-prevCPU) / float64(el) * 100
			m.CPUPercent = &pct
		}
		prev, prevCPU = m.Time, cpu
		if err := send("metrics", m); err != nil {
			return nil
		}
	}
}

// rateLimitsAdmin gives the limits to the platform admin only.
func (s *Server) rateLimitsAdmin(r *http.Request) (RateLimits, error) {
	if !principal(r.Context()).PlatformAdmin() {
		return nil, fmt.Errorf("rate limits are the platform admin's: %w", errdefs.ErrForbidden)
	}
	if s.RateLimits == nil {
		return nil, fmt.Errorf("this server has no rate limits: %w", errdefs.ErrNotImplemented)
	}
	return s.RateLimits, nil
}

func (s *Server) getRateLimits(w http.ResponseWriter, r *http.Request) error {
	rl, err := s.rateLimitsAdmin(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rateLimitsToAPI(rl.Settings()))
	return nil
}

func (s *Server) putRateLimits(w http.ResponseWriter, r *http.Request) error {
	rl, err := s.rateLimitsAdmin(r)
	if err != nil {
		return err
	}
	var req api.RateLimitSettings
	if err := decode(w, r, &req, false); err != nil {
		return err
	}
	set := ratelimit.Settings{Default: pairFromAPI(req.Default)}
	for org, p := range req.Organizations {
		if set.Organizations == nil {
			set.Organizations = map[string]ratelimit.Pair{}
		}
		set.Organizations[org] = pairFromAPI(p)
	}
	if err := set.Validate(); err != nil {
		return errdefs.InvalidField("rateLimits", "%v", err)
	}
	if err := rl.Set(set); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rateLimitsToAPI(rl.Settings()))
	return nil
}

func pairFromAPI(p api.RateLimitPair) ratelimit.Pair {
	return ratelimit.Pair{PerKey: ratelimit.Limit(p.PerKey), PerOrg: ratelimit.Limit(p.PerOrg)}
}

func pairToAPI(p ratelimit.Pair) api.RateLimitPair {
	return api.RateLimitPair{PerKey: api.RateLimit(p.PerKey), PerOrg: api.RateLimit(p.PerOrg)}
}

func rateLimitsToAPI(s ratelimit.Settings) api.RateLimitSettings {
	out := api.RateLimitSettings{Default: pairToAPI(s.Default)}
	for org, p := range s.Organizations {
		if out.Organizations == nil {
			out.Organizations = map[string]api.RateLimitPair{}
		}
		out.Organizations[org] = pairToAPI(p)
	}
	return out
}
