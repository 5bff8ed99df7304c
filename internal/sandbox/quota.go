package sandbox

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/image"
)

// Quota caps what one organisation's sandboxes hold together: every
// sandbox not deleted counts, stopped and archived ones too, since each
// can be started again without asking. A negative field is no limit.
type Quota struct {
	Sandboxes int64
	CPU       float64 // cores
	MemoryMB  int64
	DiskMB    int64
}

// NoQuota limits nothing.
var NoQuota = Quota{Sandboxes: -1, CPU: -1, MemoryMB: -1, DiskMB: -1}

func (q Quota) unlimited() bool {
	return q.Sandboxes < 0 && q.CPU < 0 && q.MemoryMB < 0 && q.DiskMB < 0
}

func (q Quota) validate(prefix string) error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"sandboxes", float64(q.Sandboxes)}, {"cpu", q.CPU}, {"memoryMB", float64(q.MemoryMB)}, {"diskMB", float64(q.DiskMB)}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || (f.v < 0 && f.v != -1) {
			return errdefs.InvalidField(prefix+f.name, "must be -1 (no limit) or at least 0")
		}
	}
	return nil
}

// OrgQuota is what the platform admin set for one organisation; a nil
// field takes the server's default (Config.DefaultQuota).
type OrgQuota struct {
	OrganizationID string
	Sandboxes      *int64
	CPU            *float64
	MemoryMB       *int64
	DiskMB         *int64
	// ImageMaxCompressedMB and ImageMaxUnpackedMB bound each image import
	// or pull the organisation makes (see Images); nil keeps the server's
	// limits, and where both are set the smaller applies.
	ImageMaxCompressedMB *int64
	ImageMaxUnpackedMB   *int64
	UpdatedAt            time.Time
}

// over returns the effective quota: q's fields over def.
func (q *OrgQuota) over(def Quota) Quota {
	if q.Sandboxes != nil {
		def.Sandboxes = *q.Sandboxes
	}
	if q.CPU != nil {
		def.CPU = *q.CPU
	}
	if q.MemoryMB != nil {
		def.MemoryMB = *q.MemoryMB
	}
	if q.DiskMB != nil {
		def.DiskMB = *q.DiskMB
	}
	return def
}

// Usage is what an organisation's sandboxes, all but deleted ones, hold.
type Usage struct {
	Sandboxes int64
	CPU       float64
	MemoryMB  int64
	DiskMB    int64
}

// QuotaStore keeps organisations' quotas and sums their use.
type QuotaStore interface {
	// GetOrgQuota returns what was set for orgID; one never set has
	// every field nil.
	GetOrgQuota(ctx context.Context, orgID string) (*OrgQuota, error)
	// PutOrgQuota replaces an organisation's quota.
	PutOrgQuota(ctx context.Context, q *OrgQuota) error
	// OrgUsage sums the resources of orgID's sandboxes in every state but
	// deleted.
	OrgUsage(ctx context.Context, orgID string) (Usage, error)
}

// QuotaStatus is an organisation's quota as set, as it applies, and
// what its sandboxes hold now.
type QuotaStatus struct {
	Set       *OrgQuota
	Effective Quota
	Usage     Usage
}

// Quota returns orgID's quota and use. Any key of the organisation may
// read it, and the platform admin any organisation's.
func (s *Service) Quota(ctx context.Context, p auth.Principal, orgID string) (*QuotaStatus, error) {
	if p.OrganizationID != orgID && !p.PlatformAdmin() {
		return nil, fmt.Errorf("only the platform admin (an admin key of the default organization) reads another organization's quota: %w", errdefs.ErrForbidden)
	}
	set, err := s.store.GetOrgQuota(ctx, orgID)
	if err != nil {
		return nil, err
	}
	use, err := s.store.OrgUsage(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return &QuotaStatus{Set: set, Effective: set.over(s.cfg.DefaultQuota), Usage: use}, nil
}

// SetQuota replaces orgID's quota; only the platform admin may. A quota
// below what the organisation holds now is accepted: it refuses new
// sandboxes until enough are deleted, and stops nothing.
func (s *Service) SetQuota(ctx context.Context, p auth.Principal, q *OrgQuota) error {
	if !p.PlatformAdmin() {
		return fmt.Errorf("only the platform admin (an admin key of the default organization) sets quotas: %w", errdefs.ErrForbidden)
	}
	if err := q.over(NoQuota).validate(""); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"imageMaxCompressedMB", q.ImageMaxCompressedMB}, {"imageMaxUnpackedMB", q.ImageMaxUnpackedMB}} {
		if f.v != nil && (*f.v < 1 || *f.v > maxImageMB) {
			return errdefs.InvalidField(f.name, "must be null (the server's limit) or from 1 to %d MB", maxImageMB)
		}
	}
	q.UpdatedAt = s.now().UTC()
	return s.store.PutOrgQuota(ctx, q)
}

// maxImageMB bounds an image quota so that it stays a byte count in an
// int64 (and is still no limit in practice: 1 PB).
const maxImageMB = 1 << 30

// imageQuota returns the image package's form of q's image limits, or
// false when q sets none.
func (q *OrgQuota) imageQuota() (image.Quota, bool) {
	out := image.Quota{CompressedField: "quota.imageMaxCompressedMB", UnpackedField: "quota.imageMaxUnpackedMB"}
	if q.ImageMaxCompressedMB != nil {
		out.Compressed = *q.ImageMaxCompressedMB << 20
	}
	if q.ImageMaxUnpackedMB != nil {
		out.Unpacked = *q.ImageMaxUnpackedMB << 20
	}
	return out, out.Compressed > 0 || out.Unpacked > 0
}

// LimitError is a create refused because the sandbox would pass a limit:
// what this host can give one sandbox, or its organisation's quota. It
// matches errdefs.ErrForbidden, so every face answers 403 (as Kubernetes
// answers a pod over its namespace's ResourceQuota or LimitRange): the
// request is well-formed, the platform's policy refuses it.
type LimitError struct {
	Field  string // the request field or quota ("resources.cpu", "quota.sandboxes")
	Reason string
}

func (e *LimitError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes a LimitError match errdefs.ErrForbidden.
func (e *LimitError) Unwrap() error { return errdefs.ErrForbidden }

// reserveQuota checks sb against its organisation's quota and returns,
// still holding the organisation's quota lock, the function that releases
// it: the caller stores sb before releasing, so that concurrent creates
// see each other and cannot together pass the quota.
func (s *Service) reserveQuota(ctx context.Context, sb *Sandbox) (func(), error) {
	set, err := s.store.GetOrgQuota(ctx, sb.OrganizationID)
	if err != nil {
		return nil, err
	}
	q := set.over(s.cfg.DefaultQuota)
	if q.unlimited() {
		return func() {}, nil
	}
	unlock, err := s.lockQuota(ctx, sb.OrganizationID)
	if err != nil {
		return nil, err
	}
	use, err := s.store.OrgUsage(ctx, sb.OrganizationID)
	if err != nil {
		unlock()
		return nil, err
	}
	if err := q.admits(use, sb.Resources); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// admits reports whether one more sandbox with r fits under q beside use.
func (q Quota) admits(use Usage, r Resources) error {
	over := func(name, limit, inUse, req string) error {
		return &LimitError{Field: "quota." + name, Reason: fmt.Sprintf(
			"the organization's quota is %s; its sandboxes hold %s and this one asks for %s more (delete sandboxes or ask the platform admin to raise the quota)",
			limit, inUse, req)}
	}
	mb := func(v int64) string { return fmt.Sprintf("%d MB", v) }
	cpu := func(v float64) string { return strconv.FormatFloat(round(v), 'f', -1, 64) + " cpu" }
	const eps = 1e-9 // CPU sums are floats
	switch {
	case q.Sandboxes >= 0 && use.Sandboxes+1 > q.Sandboxes:
		return &LimitError{Field: "quota.sandboxes", Reason: fmt.Sprintf(
			"the organization's quota is %d sandboxes and it has %d (deleted ones do not count; stopped and archived ones do)",
			q.Sandboxes, use.Sandboxes)}
	case q.CPU >= 0 && use.CPU+r.CPU > q.CPU+eps:
		return over("cpu", cpu(q.CPU), cpu(use.CPU), cpu(r.CPU))
	case q.MemoryMB >= 0 && use.MemoryMB+r.MemoryMB > q.MemoryMB:
		return over("memoryMB", mb(q.MemoryMB), mb(use.MemoryMB), mb(r.MemoryMB))
	case q.DiskMB >= 0 && use.DiskMB+r.DiskMB > q.DiskMB:
		return over("diskMB", mb(q.DiskMB), mb(use.DiskMB), mb(r.DiskMB))
	}
	return nil
}

// round drops float noise from a sum of CPU shares (0.1+0.2).
func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }
