package oci

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestIDRangesClaimReuseAfterRelease walks the registry's rules: each
// claim takes the lowest free range; a range comes back only when its
// owner releases it (delete) or is gone; a claim whose owner's record
// names another range (the same id created again) is free.
func TestIDRangesClaimReuseAfterRelease(t *testing.T) {
	reg := t.TempDir()
	sandboxes := t.TempDir()
	a := &idRanges{dir: reg, held: map[uint32]string{}, ns: map[uint32]*os.File{}}
	owner := func(name string) string {
		dir := filepath.Join(sandboxes, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	claim := func(o string) idRange {
		t.Helper()
		r, err := a.claim(o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Size != rangeSize || r.Base < rangeFirst || (r.Base-rangeFirst)%rangeSize != 0 {
			t.Fatalf("claim = %+v", r)
		}
		return r
	}
	r1, r2, r3 := claim(owner("one")), claim(owner("two")), claim(owner("three"))
	if r1 == r2 || r2 == r3 || r1 == r3 {
		t.Fatalf("ranges %v %v %v are not distinct", r1, r2, r3)
	}

	// Another driver (a second server of the host) sees them all held.
	other := &idRanges{dir: reg, held: map[uint32]string{}, ns: map[uint32]*os.File{}}
	if r, err := other.claim(owner("four")); err != nil || r == r1 || r == r2 || r == r3 {
		t.Fatalf("another driver claimed %v, %v: want a fourth range", r, err)
	}

	// Held until delete: a release by someone else changes nothing.
	if err := a.release(r2, "/not/the/owner"); err != nil {
		t.Fatal(err)
	}
	if r := claim(owner("five")); r == r2 {
		t.Fatalf("range %v handed out again while its sandbox exists", r2)
	}
	if err := os.RemoveAll(filepath.Join(sandboxes, "two")); err != nil {
		t.Fatal(err)
	}
	if err := a.release(r2, filepath.Join(sandboxes, "two")); err != nil {
		t.Fatal(err)
	}
	if r := claim(owner("six")); r != r2 {
		t.Errorf("after delete the next claim got %v, want the freed %v", r, r2)
	}

	// An owner gone without a delete (its data dir removed) frees its range.
	fresh := &idRanges{dir: reg, held: map[uint32]string{}, ns: map[uint32]*os.File{}}
	if err := os.RemoveAll(filepath.Join(sandboxes, "one")); err != nil {
		t.Fatal(err)
	}
	if r, err := fresh.claim(owner("seven")); err != nil || r != r1 {
		t.Errorf("claim after the owner vanished = %v, %v; want %v", r, err, r1)
	}

	// An owner whose record names another range (re-created) frees it.
	three := filepath.Join(sandboxes, "three")
	other3 := idRange{Base: r3.Base + 100*rangeSize, Size: rangeSize}
	if err := (&record{ID: "three", IDs: &other3}).save(filepath.Join(three, "sandbox.json")); err != nil {
		t.Fatal(err)
	}
	if r, err := fresh.claim(owner("eight")); err != nil || r != r3 {
		t.Errorf("claim past a re-created owner = %v, %v; want %v", r, err, r3)
	}
}

// BenchmarkRangeClaim is what a create adds for its id range: a claim in
// the registry, the user namespace that maps the storage range onto it
// (made ahead or kept from a range's earlier sandbox, as a create after a
// delete finds it), and the release at delete. BenchmarkRangeUserNS is the
// cost of making one, which a create pays when no namespace is ready.
func BenchmarkRangeClaim(b *testing.B) {
	init := os.Getenv("HUTCH_TEST_INIT")
	if os.Geteuid() != 0 || init == "" {
		b.Skip("needs root and the package fixture")
	}
	a, err := newIDRanges(b.TempDir(), init)
	if err != nil {
		b.Fatal(err)
	}
	owner := b.TempDir()
	var claim, ns, release time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r, err := a.claim(owner)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := a.userNS(r); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := a.release(r, owner); err != nil {
			b.Fatal(err)
		}
		claim, ns, release = claim+t1.Sub(t0), ns+time.Since(t1)-time.Since(t2), release+time.Since(t2)
	}
	b.ReportMetric(float64(claim.Microseconds())/1000/float64(b.N), "claim-ms/op")
	b.ReportMetric(float64(ns.Microseconds())/1000/float64(b.N), "userns-ms/op")
	b.ReportMetric(float64(release.Microseconds())/1000/float64(b.N), "release-ms/op")
}

func BenchmarkRangeUserNS(b *testing.B) {
	init := os.Getenv("HUTCH_TEST_INIT")
	if os.Geteuid() != 0 || init == "" {
		b.Skip("needs root and the package fixture")
	}
	for i := 0; i < b.N; i++ {
		ns, err := newUserNS(init, 0x7FFE0000, rangeFirst, rangeSize)
		if err != nil {
			b.Fatal(err)
		}
		ns.Close()
	}
}
