package sandbox

import (
	"slices"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// RuntimeOCI is the runtime of a sandbox whose record names none (made
// before sandboxes chose one).
const RuntimeOCI = "oci"

// resolveRuntime sets sb's runtime from a create's choice, or the default.
func (c Config) resolveRuntime(sb *Sandbox, want string) error {
	sb.Runtime = c.DefaultRuntime
	if sb.Runtime == "" {
		sb.Runtime = RuntimeOCI
	}
	if want == "" {
		return nil
	}
	if err := c.knownRuntime("runtime", want); err != nil {
		return err
	}
	sb.Runtime = want
	return nil
}

// knownRuntime refuses a runtime this server does not have, naming field.
func (c Config) knownRuntime(field, name string) error {
	if !slices.Contains(c.availableRuntimes(), name) {
		return errdefs.InvalidField(field, "unknown runtime %q; this server has %s", name, strings.Join(c.availableRuntimes(), ", "))
	}
	return nil
}

func (c Config) availableRuntimes() []string {
	if len(c.Runtimes) > 0 {
		return c.Runtimes
	}
	if c.DefaultRuntime != "" {
		return []string{c.DefaultRuntime}
	}
	return []string{RuntimeOCI}
}

// RuntimeOf is the runtime sb runs on.
func RuntimeOf(sb *Sandbox) string {
	if sb.Runtime == "" {
		return RuntimeOCI
	}
	return sb.Runtime
}

// RuntimeDesc is one runtime sandboxes may choose: its name, its driver
// and what the driver can do.
type RuntimeDesc struct {
	Name, Driver string
	Capabilities Capabilities
	Default      bool
}

// Runtimes lists the runtimes a create may choose, sorted by name.
func (s *Service) Runtimes() []RuntimeDesc {
	if s.rt == nil {
		return nil
	}
	def := s.cfg.DefaultRuntime
	if def == "" {
		def = RuntimeOCI
	}
	if m, ok := s.rt.(*runtime.Multi); ok {
		var out []RuntimeDesc
		for _, n := range m.Names() {
			d, _ := m.Driver(n)
			out = append(out, RuntimeDesc{Name: n, Driver: d.Name(), Capabilities: d.Capabilities(), Default: n == def})
		}
		return out
	}
	return []RuntimeDesc{{Name: def, Driver: s.rt.Name(), Capabilities: s.rt.Capabilities(), Default: true}}
}
