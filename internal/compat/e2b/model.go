package e2b

import (
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/hutchdev/hutch/internal/sandbox"
)

// Field names and shapes below are E2B's (openapi.yml: Sandbox,
// SandboxDetail, ListedSandbox), spelt as the SDK reads them.

// sandboxJSON is E2B's Sandbox: the answer of create, connect and resume,
// from which the SDK builds its envd client.
type sandboxJSON struct {
	TemplateID         string  `json:"templateID"`
	SandboxID          string  `json:"sandboxID"`
	Alias              string  `json:"alias,omitempty"`
	ClientID           string  `json:"clientID"`
	EnvdVersion        string  `json:"envdVersion"`
	EnvdAccessToken    string  `json:"envdAccessToken"`
	TrafficAccessToken *string `json:"trafficAccessToken"`
	Domain             *string `json:"domain"`
}

// detailJSON is E2B's SandboxDetail (get) and, without the token, its
// ListedSandbox (lists).
type detailJSON struct {
	TemplateID          string            `json:"templateID"`
	Alias               string            `json:"alias,omitempty"`
	SandboxID           string            `json:"sandboxID"`
	ClientID            string            `json:"clientID"`
	StartedAt           time.Time         `json:"startedAt"`
	EndAt               time.Time         `json:"endAt"`
	EnvdVersion         string            `json:"envdVersion"`
	EnvdAccessToken     string            `json:"envdAccessToken,omitempty"`
	AllowInternetAccess *bool             `json:"allowInternetAccess,omitempty"`
	Domain              *string           `json:"domain,omitempty"`
	CPUCount            int               `json:"cpuCount"`
	MemoryMB            int64             `json:"memoryMB"`
	DiskSizeMB          int64             `json:"diskSizeMB"`
	Metadata            map[string]string `json:"metadata"`
	State               string            `json:"state"`
	Network             *networkJSON      `json:"network,omitempty"`
	Lifecycle           *lifecycleJSON    `json:"lifecycle,omitempty"`
	VolumeMounts        []struct{}        `json:"volumeMounts"`
}

// networkJSON is the part of E2B's SandboxNetworkConfig that Hutch's
// egress policy expresses (see network.go).
type networkJSON struct {
	AllowOut []string `json:"allowOut,omitempty"`
	DenyOut  []string `json:"denyOut,omitempty"`
}

// lifecycleJSON is E2B's SandboxLifecycle: a Hutch expiry deletes the
// sandbox (kill); autoResume is Hutch's own auto-resume on traffic.
type lifecycleJSON struct {
	AutoResume bool   `json:"autoResume"`
	OnTimeout  string `json:"onTimeout"`
}

// clientID is E2B's deprecated client identifier, answered as a constant.
const clientID = "hutch"

// never is the endAt of a sandbox without an expiry (one made through
// another face): E2B sandboxes always have one, and the SDK parses it.
var never = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// state is E2B's word for a Hutch state: E2B knows only running and
// paused. Everything that is or is becoming a running sandbox is
// running; everything that keeps its files but runs nothing (paused,
// stopped, archived, and error, which a start recovers) is paused, which
// connect brings back. Deleting and deleted sandboxes are not found.
func state(s sandbox.State) string {
	switch s {
	case sandbox.StateCreating, sandbox.StateRunning, sandbox.StateResuming, sandbox.StateStarting:
		return "running"
	}
	return "paused"
}

// statesOf is the set of Hutch states an E2B state word stands for.
func statesOf(word string) []sandbox.State {
	var out []sandbox.State
	for _, s := range sandbox.States {
		if !gone(s) && state(s) == word {
			out = append(out, s)
		}
	}
	return out
}

// gone reports whether a sandbox in s is, for E2B, not there any more.
func gone(s sandbox.State) bool { return s == sandbox.StateDeleting || s == sandbox.StateDeleted }

// templateOf is the E2B template a sandbox was made from: the name it
// was asked for with, or the image of a sandbox from another face.
func templateOf(sb *sandbox.Sandbox) string {
	if sb.Template != "" {
		return sb.Template
	}
	return sb.Image
}

func cpuCount(cpu float64) int {
	n := int(math.Ceil(cpu))
	if n < 1 {
		n = 1
	}
	return n
}

// domain is the sandbox domain the SDK builds envd's host form and
// getHost(port) URLs from ({port}-{id}.{domain}): the server's per-sandbox
// host domain, with the port this request came in on; nil without one.
func (f *face) domain(r *http.Request) *string {
	if f.Domain == "" {
		return nil
	}
	d := f.Domain
	if _, port, ok := strings.Cut(r.Host, ":"); ok && f.PublicURL == "" {
		d += ":" + port
	}
	return &d
}

func (f *face) token(id string) string { return f.Tokens.Issue(vendor, id, time.Time{}) }

func (f *face) sandboxJSON(r *http.Request, sb *sandbox.Sandbox) sandboxJSON {
	return sandboxJSON{TemplateID: templateOf(sb), SandboxID: sb.ID, Alias: sb.Template, ClientID: clientID,
		EnvdVersion: envdVersion, EnvdAccessToken: f.token(sb.ID), Domain: f.domain(r)}
}

// detail is sb as E2B's SandboxDetail; withToken adds the envd token
// (get answers it, lists do not).
func (f *face) detail(r *http.Request, sb *sandbox.Sandbox, withToken bool) detailJSON {
	started := sb.CreatedAt
	if sb.StartedAt != nil {
		started = *sb.StartedAt
	}
	end := never
	if sb.ExpiresAt != nil {
		end = *sb.ExpiresAt
	}
	md := sb.Metadata
	if md == nil {
		md = map[string]string{}
	}
	internet := sb.Network.Internet
	d := detailJSON{TemplateID: templateOf(sb), Alias: sb.Template, SandboxID: sb.ID, ClientID: clientID,
		StartedAt: started.UTC(), EndAt: end.UTC(), EnvdVersion: envdVersion, AllowInternetAccess: &internet,
		Domain: f.domain(r), CPUCount: cpuCount(sb.Resources.CPU), MemoryMB: sb.Resources.MemoryMB,
		DiskSizeMB: sb.Resources.DiskMB, Metadata: md, State: state(sb.State),
		Network: networkOf(sb.Network), Lifecycle: &lifecycleJSON{AutoResume: sb.AutoResume, OnTimeout: "kill"},
		VolumeMounts: []struct{}{}}
	if withToken {
		d.EnvdAccessToken = f.token(sb.ID)
	}
	return d
}
