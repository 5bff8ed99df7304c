package sandbox

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/network"
	"github.com/hutchdev/hutch/internal/runtime"
)

// NetworkUpdate replaces a sandbox's network policy; nil keeps a field.
type NetworkUpdate struct {
	Internet   *bool
	AllowCIDRs *[]string
	DenyCIDRs  *[]string
}

// validateNetwork checks both CIDR lists, naming the field at fault.
func validateNetwork(n Network) error {
	if err := validateCIDRs("network.allowCIDRs", n.AllowCIDRs); err != nil {
		return err
	}
	return validateCIDRs("network.denyCIDRs", n.DenyCIDRs)
}

// checkAllowed refuses an allowCIDRs entry inside a range no sandbox may
// reach (other sandboxes, the host, loopback, link-local; see
// network.Protected), naming the range. The firewall never opens those
// ranges whatever a policy says; the 400 tells the caller so, rather than
// storing a policy that silently does less than it reads.
func (c Config) checkAllowed(allow []string) error {
	subnet := c.NetworkSubnet
	if !subnet.IsValid() {
		subnet = netip.MustParsePrefix(network.DefaultSubnet)
	}
	protected := network.Protected(subnet)
	for _, p := range c.ProtectedCIDRs {
		protected = append(protected, network.Range{Prefix: p, What: "a range the server protects (--kube-protected-cidrs)"})
	}
	return network.CheckAllow("network.allowCIDRs", allow, protected)
}

// ValidatePort checks a port number from a path or body.
func ValidatePort(port int) error {
	if port < 1 || port > 65535 {
		return errdefs.InvalidField("port", "must be between 1 and 65535")
	}
	return nil
}

// SetNetwork changes a sandbox's network policy. A running or paused
// sandbox gets it at once; a stopped one on its next start.
func (s *Service) SetNetwork(ctx context.Context, orgID, idOrName string, u NetworkUpdate) (*Sandbox, error) {
	return s.update(ctx, orgID, idOrName, func(sb *Sandbox, now time.Time) (Event, error) {
		n := sb.Network
		if u.Internet != nil {
			n.Internet = *u.Internet
		}
		if u.AllowCIDRs != nil {
			n.AllowCIDRs = *u.AllowCIDRs
		}
		if u.DenyCIDRs != nil {
			n.DenyCIDRs = *u.DenyCIDRs
		}
		if err := validateNetwork(n); err != nil {
			return Event{}, err
		}
		if u.AllowCIDRs != nil {
			// Only a list being set: a stored one is the firewall's to
			// ignore, and must not block an unrelated change.
			if err := s.cfg.checkAllowed(n.AllowCIDRs); err != nil {
				return Event{}, err
			}
		}
		if sb.State.Transitional() {
			return Event{}, &TransitionError{Action: "change the network of", From: sb.State}
		}
		if sb.State == StateRunning || sb.State == StatePaused {
			nw, ok := runtime.AsNetworker(s.rt)
			if !ok {
				return Event{}, fmt.Errorf("this runtime cannot change networks: %w", errdefs.ErrNotImplemented)
			}
			pol := runtime.NetworkPolicy{Internet: n.Internet, AllowCIDRs: n.AllowCIDRs, DenyCIDRs: n.DenyCIDRs}
			if err := nw.SetNetwork(ctx, sb.ID, pol); err != nil {
				return Event{}, err
			}
		}
		sb.Network = n
		return Event{Type: "network", Cause: CauseUser, Message: fmt.Sprintf("internet=%v allow=%v deny=%v", n.Internet, n.AllowCIDRs, n.DenyCIDRs)}, nil
	})
}

// SetPortPublic makes the port proxy serve port of a sandbox without an
// API key (public) or only with one again.
func (s *Service) SetPortPublic(ctx context.Context, orgID, idOrName string, port int, public bool) (*Sandbox, error) {
	if err := ValidatePort(port); err != nil {
		return nil, err
	}
	return s.update(ctx, orgID, idOrName, func(sb *Sandbox, now time.Time) (Event, error) {
		ports := slices.DeleteFunc(slices.Clone(sb.Network.PublicPorts), func(p int) bool { return p == port })
		if public {
			ports = append(ports, port)
			slices.Sort(ports)
		}
		sb.Network.PublicPorts = ports
		return Event{Type: "network", Cause: CauseUser, Message: fmt.Sprintf("port %d public=%v", port, public)}, nil
	})
}

// IsPublic reports whether the proxy serves port without an API key.
func (sb *Sandbox) IsPublic(port int) bool { return slices.Contains(sb.Network.PublicPorts, port) }

// CauseProxy marks transitions the port proxy caused (auto-resume).
const CauseProxy = "proxy"

// ProxyReady makes sure a sandbox can take proxied traffic and records
// the activity: a running one can; a paused one is resumed first when it
// has AutoResume, otherwise the answer is errdefs.ErrPaused; any other
// state is a *TransitionError.
func (s *Service) ProxyReady(ctx context.Context, sb *Sandbox) (*Sandbox, error) {
	if sb.State == StatePaused || sb.State == StateResuming || sb.State == StatePausing {
		if !sb.AutoResume {
			return nil, fmt.Errorf("sandbox %s is paused; resume it or create it with autoResume: %w", sb.ID, errdefs.ErrPaused)
		}
		next, err := s.Act(ctx, sb.OrganizationID, sb.ID, ActionResume, ActOptions{Wait: true, Cause: CauseProxy})
		if err != nil {
			return nil, err
		}
		sb = next
	}
	if sb.State != StateRunning {
		return nil, &TransitionError{Action: "reach a port of", From: sb.State}
	}
	_ = s.Touch(ctx, sb) // activity is best effort; the request goes on
	return sb, nil
}

// GetByID returns a sandbox of any organisation, for callers that proved
// their access another way (a signed port URL, a public port).
func (s *Service) GetByID(ctx context.Context, id string) (*Sandbox, error) {
	sb, err := s.store.GetSandboxByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if sb.State == StateDeleted {
		return nil, fmt.Errorf("sandbox %s: %w", id, errdefs.ErrSandboxNotFound)
	}
	return sb, nil
}
