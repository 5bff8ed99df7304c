package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/tlspin"
)

// operatorCLI runs the binary under test with the machine's config file
// out of the way.
func operatorCLI(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "HUTCH_CONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hutch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestBackupUnderLoadRestores takes `hutch backup` while sandboxes are
// being paused, resumed and relabelled, loses the server, restores the
// backup over its store and finds every sandbox listed and settled.
func TestBackupUnderLoadRestores(t *testing.T) {
	s := startServer(t, "")
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, create(t, s, api.CreateSandboxRequest{Name: fmt.Sprintf("kept-%d", i)}).ID)
	}
	var ops atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	load := func(id string, op func(string) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := op(id); err != nil {
					t.Errorf("load on %s: %v", id, err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	for _, id := range ids[:2] {
		load(id, func(id string) error {
			if _, err := s.c.Pause(ctx(t), id); err != nil {
				return err
			}
			_, err := s.c.Resume(ctx(t), id)
			return err
		})
	}
	for _, id := range ids[2:] {
		n := 0
		load(id, func(id string) error {
			n++
			v := fmt.Sprint(n)
			_, err := s.c.PatchMetadata(ctx(t), id, map[string]*string{"n": &v})
			return err
		})
	}
	poll.Until(t, "the load to run", func() bool { return ops.Load() >= 8 })
	backup := filepath.Join(t.TempDir(), "hutch-backup.db")
	out := operatorCLI(t, "backup", "--data-dir", s.dataDir, backup)
	during := ops.Load()
	close(stop)
	wg.Wait()
	if !strings.Contains(out, "archives") {
		t.Fatalf("backup does not list what else to keep:\n%s", out)
	}
	t.Logf("%d operations had run when the backup finished", during)

	s.crash()
	operatorCLI(t, "restore", "--data-dir", s.dataDir, backup)
	s2 := startServer(t, s.dataDir)
	all := []string{"creating", "running", "pausing", "paused", "resuming", "stopping", "stopped",
		"starting", "archiving", "archived", "deleting", "error"}
	list, err := s2.c.ListSandboxes(ctx(t), client.ListOptions{States: all, PageSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, sb := range list.Items {
		got[sb.ID] = sb.State
	}
	for _, id := range ids {
		state, ok := got[id]
		if !ok {
			t.Fatalf("sandbox %s is not listed after the restore: %v", id, got)
		}
		if state != "running" && state != "paused" {
			t.Fatalf("sandbox %s is %s after the restore, want it settled as running or paused", id, state)
		}
		if state == "paused" {
			if _, err := s2.c.Resume(ctx(t), id); err != nil {
				t.Fatalf("resume %s after the restore: %v", id, err)
			}
		}
	}
}

func scrapeMetrics(t *testing.T, hc *http.Client, url, key string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range labels {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// TestMetricsMoveWithSandboxes: real creates, pauses and resumes move the
// transition counters and the sandboxes-by-state gauge, and a running
// sandbox's own metrics show its memory and processes.
func TestMetricsMoveWithSandboxes(t *testing.T) {
	s := startServer(t, "")
	before := scrapeMetrics(t, http.DefaultClient, s.url, s.key)
	sb := create(t, s, api.CreateSandboxRequest{Name: "measured"})
	if _, err := s.c.Pause(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Resume(ctx(t), sb.ID); err != nil {
		t.Fatal(err)
	}
	after := scrapeMetrics(t, http.DefaultClient, s.url, s.key)
	for _, action := range []string{"create", "pause", "resume"} {
		l := map[string]string{"action": action, "outcome": "ok"}
		if d := metricValue(after, "hutch_sandbox_transitions_total", l) - metricValue(before, "hutch_sandbox_transitions_total", l); d != 1 {
			t.Errorf("%s transitions moved by %v, want 1", action, d)
		}
		if metricValue(after, "hutch_sandbox_transition_seconds", l) < 1 {
			t.Errorf("no %s latency observed", action)
		}
	}
	if n := metricValue(after, "hutch_sandboxes", map[string]string{"org": auth.DefaultOrganizationID, "state": "running"}); n < 1 {
		t.Errorf("running sandboxes of the default organisation = %v", n)
	}
	m, err := s.c.SandboxMetrics(ctx(t), sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.MemoryBytes <= 0 || m.Pids < 1 || m.MemoryLimitBytes <= 0 || m.DiskBytes <= 0 || m.DiskLimitBytes <= m.DiskBytes {
		t.Fatalf("sandbox metrics %+v", m)
	}
	out := operatorCLI(t, "--url", s.url, "--api-key", s.key, "top", "--once", "--interval", "300ms", sb.ID)
	if !strings.Contains(out, sb.ID) || !strings.Contains(out, "MiB") {
		t.Fatalf("hutch top:\n%s", out)
	}
}

var fingerprintLogRE = regexp.MustCompile(`sha256=([0-9A-F]{2}(?::[0-9A-F]{2}){31})`)

// TestTLSSelfSignedServer serves the API over TLS with a self-signed
// certificate: the SDK and the CLI reach it by the fingerprint in the
// log, and the port URLs it hands out are https.
func TestTLSSelfSignedServer(t *testing.T) {
	s := startServer(t, "", "--tls-self-signed")
	b, _ := os.ReadFile(s.logPath)
	m := fingerprintLogRE.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no fingerprint in the log:\n%s", b)
	}
	fp := m[1]
	s.url = strings.Replace(s.url, "http://", "https://", 1)
	var err error
	if s.c, err = client.New(s.url, s.key, client.WithPinnedCertificate(fp)); err != nil {
		t.Fatal(err)
	}
	sb := create(t, s, api.CreateSandboxRequest{Name: "tls"})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlspin.Config(fp), ForceAttemptHTTP2: true}, Timeout: time.Minute}
	req, _ := http.NewRequest("POST", s.url+"/v1/sandboxes/"+sb.ID+"/ports/8080/url", bytes.NewReader([]byte("{}")))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var u api.PortURL
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil || resp.StatusCode != 200 {
		t.Fatalf("port URL: %d %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(u.URL, "https://") || resp.ProtoMajor != 2 {
		t.Fatalf("port URL %q over %s, want an https URL over HTTP/2", u.URL, resp.Proto)
	}
	out := operatorCLI(t, "--url", s.url, "--api-key", s.key, "--tls-fingerprint", fp, "get", sb.ID)
	if !strings.Contains(out, "running") {
		t.Fatalf("hutch get over TLS:\n%s", out)
	}
	cmd := exec.Command(binary, "--url", s.url, "--api-key", s.key, "get", sb.ID)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the CLI trusted a self-signed certificate without its fingerprint:\n%s", out)
	}
}
