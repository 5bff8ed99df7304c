package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// raw measures the floor: an OCI runtime binary run by hand on a bundle
// of the same image, without Hutch's user namespace, overlay, disk,
// network, agent or store, and the cgroup freezer written directly.
type raw struct {
	name    string // the runtime binary's name: crun, runc
	bin     string
	root    string // the runtime's --root: a state dir of the bench's own
	bundle  string
	freezer string // the v1 freezer hierarchy ("" skips the freezer rows)
	cgroup  string // the containers' cgroup parent, below each hierarchy
}

// Names of the raw results; the hutch scenarios name them as floors.
func rawRun(rt string) string    { return "raw " + rt + " run -d" }
func rawExec(rt string) string   { return "raw " + rt + " exec true" }
func rawPause(rt string) string  { return "raw " + rt + " pause" }
func rawResume(rt string) string { return "raw " + rt + " resume" }
func rawDelete(rt string) string { return "raw " + rt + " delete -f" }

const (
	rawFreeze = "raw freezer freeze"
	rawThaw   = "raw freezer thaw"
)

// unpackRootfs extracts an image's rootfs tarball (the form
// scripts/setup.sh leaves in /var/cache/hutch/images) under dir.
func unpackRootfs(ctx context.Context, tarPath, dir string) (string, error) {
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "tar", "-xf", tarPath, "-C", rootfs, "--numeric-owner").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("unpack %s: %v: %s", tarPath, err, strings.TrimSpace(string(out)))
	}
	return rootfs, nil
}

// newRaw writes a bundle for runtime rt over rootfs (shared read-only by
// every bundle) under dir.
func newRaw(rt, rootfs, dir string) (*raw, error) {
	bin, err := exec.LookPath(rt)
	if err != nil {
		return nil, err
	}
	r := &raw{name: rt, bin: bin, root: filepath.Join(dir, rt+"-state"), bundle: filepath.Join(dir, rt+"-bundle"),
		freezer: cgroupRoot("freezer"), cgroup: fmt.Sprintf("hutch-bench-%d", os.Getpid())}
	if err := os.MkdirAll(r.bundle, 0o755); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(rawSpec(rootfs, "/"+r.cgroup+"/"+rt), "", "  ")
	if err != nil {
		return nil, err
	}
	return r, os.WriteFile(filepath.Join(r.bundle, "config.json"), b, 0o644)
}

// rawSpec is a container like a sandbox without Hutch's extras: the
// image's rootfs read-only, PID 1 idling, its own namespaces but the
// user one, and a cgroup.
func rawSpec(rootfs, cgroupsPath string) *specs.Spec {
	return &specs.Spec{
		Version:  "1.0.2", // what crun 1.8 and runc 1.1 (Debian 12) accept
		Root:     &specs.Root{Path: rootfs, Readonly: true},
		Hostname: "raw",
		Process: &specs.Process{Args: []string{"sleep", "infinity"}, Cwd: "/",
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace},
				{Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}},
			CgroupsPath: cgroupsPath,
		},
	}
}

// round runs one container through run -d, exec, pause, resume, the
// freezer and delete, passing each step's time to add; a failed step
// ends the round (after the delete).
func (r *raw) round(ctx context.Context, i int, add func(name string, d time.Duration, err error)) {
	id := fmt.Sprintf("hutch-bench-%d-%s-%d", os.Getpid(), r.name, i)
	step := func(name string, args ...string) bool {
		start := time.Now()
		err := r.run(ctx, args...)
		add(name, time.Since(start), err)
		return err == nil
	}
	if !step(rawRun(r.name), "run", "--detach", "--bundle", r.bundle, id) {
		_ = r.run(context.WithoutCancel(ctx), "delete", "--force", id) // whatever the failed run left
		return
	}
	defer step(rawDelete(r.name), "delete", "--force", id)
	if !step(rawExec(r.name), "exec", id, "true") ||
		!step(rawPause(r.name), "pause", id) ||
		!step(rawResume(r.name), "resume", id) {
		return
	}
	if r.freezer == "" {
		return
	}
	file := filepath.Join(r.freezer, r.cgroup, r.name, "freezer.state")
	start := time.Now()
	err := setFreezer(file, "FROZEN")
	add(rawFreeze, time.Since(start), err)
	start = time.Now()
	err = setFreezer(file, "THAWED")
	add(rawThaw, time.Since(start), err)
}

// run runs the runtime binary with its output in a file: a detached
// container keeps the files it was given, and a pipe would never close.
func (r *raw) run(ctx context.Context, args ...string) error {
	out, err := os.CreateTemp("", "hutch-bench-raw-out-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--root", r.root}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s %s: %w: %s", r.name, strings.Join(args, " "), err, strings.TrimSpace(string(msg)))
	}
	return nil
}

// cleanup removes the cgroups the runtime left under the bench's parent,
// in every hierarchy (v1 controllers, name=systemd, the v2 one).
func (r *raw) cleanup() {
	for _, root := range cgroupMounts() {
		_ = os.Remove(filepath.Join(root, r.cgroup, r.name))
		_ = os.Remove(filepath.Join(root, r.cgroup))
	}
}

// setFreezer writes a freezer state and waits until the kernel reports
// it, as the oci driver's pause does.
func setFreezer(file, state string) error {
	if err := os.WriteFile(file, []byte(state), 0); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(got)) == state {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not reach %s", file, state)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
