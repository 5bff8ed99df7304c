package sandbox

import "fmt"

// Host is what one sandbox can at most be given on this machine, so that
// a request for 64 cpus on a 2-core host is refused rather than accepted
// as a limit the kernel can never reach (and a 1 TiB sparse disk on a
// host with 70 GB free is not promised).
type Host struct {
	CPU      float64 // cores
	MemoryMB int64
	// MaxDiskMB, when above 0, is the platform admin's bound on one
	// sandbox's disk, used instead of the free space (disks are sparse,
	// so an admin may knowingly promise more than is free).
	MaxDiskMB int64
	// FreeDiskMB reads the free space where sandbox disks live; it is
	// read at each create, since it changes.
	FreeDiskMB func() (int64, error)
}

// WithHost caps every create at what h can give one sandbox (the server
// measures its machine). Without it only Config.MaxResources bounds a
// sandbox.
func WithHost(h Host) Option { return func(s *Service) { s.host = &h } }

// checkHost refuses resources this host cannot give one sandbox.
func (s *Service) checkHost(r Resources) error {
	h := s.host
	if h == nil {
		return nil
	}
	if h.CPU > 0 && r.CPU > h.CPU {
		return &LimitError{Field: "resources.cpu", Reason: fmt.Sprintf("%v is more than this host's %v cpus", r.CPU, h.CPU)}
	}
	if h.MemoryMB > 0 && r.MemoryMB > h.MemoryMB {
		return &LimitError{Field: "resources.memoryMB", Reason: fmt.Sprintf("%d is more than this host's %d MB of memory", r.MemoryMB, h.MemoryMB)}
	}
	if h.MaxDiskMB > 0 {
		if r.DiskMB > h.MaxDiskMB {
			return &LimitError{Field: "resources.diskMB", Reason: fmt.Sprintf("%d is more than the %d MB this server gives one sandbox", r.DiskMB, h.MaxDiskMB)}
		}
		return nil
	}
	if h.FreeDiskMB == nil {
		return nil
	}
	free, err := h.FreeDiskMB()
	if err != nil {
		return err
	}
	if r.DiskMB > free {
		return &LimitError{Field: "resources.diskMB", Reason: fmt.Sprintf("%d is more than the %d MB free on this host's sandbox disk", r.DiskMB, free)}
	}
	return nil
}
