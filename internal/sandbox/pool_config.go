package sandbox

import "fmt"

// PoolConfig sets how many prepared sandboxes the server keeps ahead of
// demand (warm pools, see pool.go). A create that a pool can serve takes
// a prepared sandbox instead of booting one.
type PoolConfig struct {
	// DefaultSize is the pool of Config.DefaultImage on the default
	// runtime; 0 keeps none.
	DefaultSize int
	// Images are the pools of other images (or of the default image on
	// another runtime), and override DefaultSize for the default image.
	Images []PoolSize
}

// PoolSize is the pool of one image on one runtime.
type PoolSize struct {
	// Image is a reference as creates name it ("base", "python"); the
	// pool holds what it names in the shared namespace.
	Image string
	// Runtime is the driver ("oci", "gvisor"); empty is the default.
	Runtime string
	Size    int
}

// MaxPoolSize bounds one pool: prepared sandboxes hold memory, addresses
// and disk that no organisation is charged for.
const MaxPoolSize = 64

func (c PoolConfig) validate() error {
	if c.DefaultSize < 0 || c.DefaultSize > MaxPoolSize {
		return fmt.Errorf("default pool size %d outside [0, %d]", c.DefaultSize, MaxPoolSize)
	}
	for _, p := range c.Images {
		if p.Image == "" {
			return fmt.Errorf("pool of an empty image name")
		}
		if p.Size < 0 || p.Size > MaxPoolSize {
			return fmt.Errorf("pool size %d of %s outside [0, %d]", p.Size, p.Image, MaxPoolSize)
		}
	}
	return nil
}

// poolTargets are the pools to keep, each with its runtime named: the
// default image's first, then the others in the order configured; a
// later entry for the same image and runtime replaces an earlier one.
func (c Config) poolTargets() []PoolSize {
	def := c.DefaultRuntime
	if def == "" {
		def = RuntimeOCI
	}
	all := append([]PoolSize{{Image: c.DefaultImage, Runtime: def, Size: c.Pools.DefaultSize}}, c.Pools.Images...)
	var out []PoolSize
	index := map[PoolSize]int{}
	for _, p := range all {
		if p.Runtime == "" {
			p.Runtime = def
		}
		k := PoolSize{Image: p.Image, Runtime: p.Runtime}
		if i, ok := index[k]; ok {
			out[i].Size = p.Size
			continue
		}
		index[k] = len(out)
		out = append(out, p)
	}
	return out
}
