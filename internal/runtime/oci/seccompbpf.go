package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompBPFAnnotation makes crun load a filter compiled before instead of
// compiling the profile with libseccomp. Compiling the allow list for
// three architectures is the largest part of a `crun run` of a sandbox:
// about 35 ms of CPU on a quiet 2-core host, against about 30 ms for the
// whole `crun run -d` of a bundle without seccomp. Debian's crun has no
// cache of its own (it needs libgcrypt, which that build leaves out).
const seccompBPFAnnotation = "run.oci.seccomp_bpf_data"

// maxSeccompBPF bounds a kept filter: the kernel takes at most 4096
// instructions of 8 bytes.
const maxSeccompBPF = 4096 * 8

// compiledSeccompPath is where the filter crun compiled from prof is kept
// for the next creates, named by a hash of everything the compiled program
// depends on: the profile, the crun binary (its libseccomp) and the
// kernel. A different crun or kernel finds no filter and compiles again.
func (d *Driver) compiledSeccompPath(prof *specs.LinuxSeccomp) (string, error) {
	st, err := os.Stat(d.binary)
	if err != nil {
		return "", err
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", err
	}
	b, err := json.Marshal(prof)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00%s\x00", d.binary, st.Size(), st.ModTime().UnixNano(),
		unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Version[:]))
	h.Write(b)
	return filepath.Join(d.cfg.StateDir, "templates", "seccomp-"+hex.EncodeToString(h.Sum(nil))[:32]+".bpf"), nil
}

// useCompiledSeccomp gives spec the filter kept for its profile, when
// there is one. The profile stays in spec: crun still takes the filter's
// flags from it, and the filter is the one crun compiled from it.
func (d *Driver) useCompiledSeccomp(spec *specs.Spec) {
	if d.cfg.Runtime != RuntimeCrun || spec.Linux == nil || spec.Linux.Seccomp == nil {
		return
	}
	path, err := d.compiledSeccompPath(spec.Linux.Seccomp)
	if err != nil {
		return
	}
	bpf, err := os.ReadFile(path)
	if err != nil || !validSeccompBPF(bpf) {
		return
	}
	if spec.Annotations == nil {
		spec.Annotations = map[string]string{}
	}
	spec.Annotations[seccompBPFAnnotation] = base64.StdEncoding.EncodeToString(bpf)
}

// keepCompiledSeccomp keeps the filter crun compiled for container id, run
// from bundle p, when its spec had no compiled filter yet. crun wrote the
// filter into its own state directory, which only root reaches, before
// the container's first process ran.
func (d *Driver) keepCompiledSeccomp(p paths, id string) {
	if d.cfg.Runtime != RuntimeCrun {
		return
	}
	cfg, err := os.ReadFile(p.config)
	if err != nil || bytes.Contains(cfg, []byte(seccompBPFAnnotation)) {
		return
	}
	var spec struct {
		Linux *struct {
			Seccomp *specs.LinuxSeccomp `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(cfg, &spec); err != nil || spec.Linux == nil || spec.Linux.Seccomp == nil {
		return
	}
	path, err := d.compiledSeccompPath(spec.Linux.Seccomp)
	if err != nil {
		return
	}
	bpf, err := os.ReadFile(filepath.Join(d.runtimeRoot(), id, "seccomp.bpf"))
	if err != nil || !validSeccompBPF(bpf) {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	// A file of its own, renamed over the path once whole: creates that
	// run at once learn at once, and a reader must never see part of a
	// filter (a prefix of a program can be a valid, weaker one).
	f, err := os.CreateTemp(filepath.Dir(path), "seccomp-*.tmp")
	if err != nil {
		return
	}
	_, err = f.Write(bpf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return
	}
	d.log.Debug("kept the compiled seccomp filter for the next creates", "path", path, "bytes", len(bpf))
}

// validSeccompBPF reports whether b can be a filter program.
func validSeccompBPF(b []byte) bool {
	return len(b) > 0 && len(b)%8 == 0 && len(b) <= maxSeccompBPF
}
