package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Names of the Docker results; the hutch scenarios name them beside
// their floor.
const (
	dockerRun     = "docker run -d"
	dockerExec    = "docker exec true"
	dockerPause   = "docker pause"
	dockerUnpause = "docker unpause"
	dockerRm      = "docker rm -f"
)

// dockerOf names the Docker result a scenario is compared to.
func dockerOf(scenario string) string {
	switch scenario {
	case ScenarioCreate, ScenarioCreatePool:
		return dockerRun
	case ScenarioExec:
		return dockerExec
	case ScenarioPause:
		return dockerPause
	case ScenarioResume:
		return dockerUnpause
	case ScenarioDelete:
		return dockerRm
	}
	return ""
}

// docker measures the same image under Docker, when an engine answers
// the docker CLI (its DOCKER_HOST or default socket): the image's rootfs
// tarball imported once, then Warmup+Rounds containers through run -d,
// exec, pause, unpause and rm -f. Without an engine it says so in a note.
func (r *run) docker(ctx context.Context, rep *Report) {
	if !r.o.selected(ScenarioDocker) || r.o.Docker == "" || ctx.Err() != nil {
		return
	}
	d := &dockerCLI{bin: r.o.Docker}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	version, err := d.out(vctx, "version", "--format", "{{.Server.Version}}")
	cancel()
	if err != nil {
		rep.Notes = append(rep.Notes, "docker: not measured (no engine answers: "+firstLine(err.Error())+"); scripts/bench-docker.sh starts one for a run")
		return
	}
	tarPath := r.o.RawTar
	if tarPath == "" {
		tarPath = seedTar(r.o.Image)
	}
	tag := fmt.Sprintf("hutch-bench-%d:%s", os.Getpid(), r.o.Image)
	r.prog.say("importing %s into docker %s as %s", tarPath, version, tag)
	if _, err := d.out(ctx, "import", tarPath, tag); err != nil {
		rep.Notes = append(rep.Notes, "docker: not measured: "+err.Error())
		return
	}
	defer func() { _, _ = d.out(context.WithoutCancel(ctx), "rmi", "-f", tag) }()
	rep.Notes = append(rep.Notes, "docker: engine "+version+", the image's rootfs imported, default bridge network")
	rep.Results = append(rep.Results, r.rounds(ctx, "docker", KindDocker, func(ctx context.Context, i int, add func(string, time.Duration, error)) {
		d.round(ctx, fmt.Sprintf("hutch-bench-%d-%d", os.Getpid(), i), tag, add)
	})...)
}

// dockerCLI runs the docker client.
type dockerCLI struct{ bin string }

// round runs one container through run -d, exec, pause, unpause and
// rm -f, passing each step's time to add; a failed step ends the round
// (after the rm).
func (d *dockerCLI) round(ctx context.Context, name, image string, add func(string, time.Duration, error)) {
	step := func(result string, args ...string) bool {
		start := time.Now()
		_, err := d.out(ctx, args...)
		add(result, time.Since(start), err)
		return err == nil
	}
	if !step(dockerRun, "run", "-d", "--name", name, image, "sleep", "infinity") {
		_, _ = d.out(context.WithoutCancel(ctx), "rm", "-f", name)
		return
	}
	defer step(dockerRm, "rm", "-f", name)
	_ = step(dockerExec, "exec", name, "true") &&
		step(dockerPause, "pause", name) &&
		step(dockerUnpause, "unpause", name)
}

func (d *dockerCLI) out(ctx context.Context, args ...string) (string, error) {
	b, err := exec.CommandContext(ctx, d.bin, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// setDockers fills in each hutch result's Docker comparison where Docker
// was measured.
func setDockers(rep *Report) {
	have := map[string]bool{}
	for _, res := range rep.Results {
		if res.Kind == KindDocker {
			have[res.Name] = true
		}
	}
	for i, res := range rep.Results {
		if d := dockerOf(baseName(res.Name)); res.Kind == KindHutch && have[d] {
			rep.Results[i].Docker = d
		}
	}
}
