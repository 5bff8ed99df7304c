package server_test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hutchdev/hutch/internal/config"
)

// scrape fetches url with key and parses it with the Prometheus text
// parser.
func scrape(t *testing.T, url, key string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	return families
}

// sample finds the metric of family name whose labels include want.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := families[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// freePorts returns n loopback addresses that were free, taken all at
// once: a port given back before the next is taken may be handed out
// again, and so may one the server's listener takes with port 0.
func freePorts(t *testing.T, n int) []string {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// TestMetricsEndpoint: /metrics on the API listener is the platform
// admin's, parses, and counts the requests the server answered (by route
// template, never by path), the store's work and the host; the metrics
// listener serves the same without a key.
func TestMetricsEndpoint(t *testing.T) {
	cfg := config.Default()
	addrs := freePorts(t, 2)
	cfg.Listen = addrs[0]
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.SeedImages = ""
	cfg.HTTP.MetricsListen = addrs[1]
	url, _, _ := start(t, cfg)
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "api-key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(b))
	if get(t, url+"/metrics", "") != 401 {
		t.Fatal("/metrics without a key is not 401")
	}
	// Another organisation's admin key sees no other organisation's series.
	body := strings.NewReader(`{"name":"tenant"}`)
	req, _ := http.NewRequest("POST", url+"/v1/organizations", body)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var org struct {
		APIKey string `json:"apiKey"`
	}
	json.NewDecoder(resp.Body).Decode(&org)
	resp.Body.Close()
	if org.APIKey == "" || get(t, url+"/metrics", org.APIKey) != 403 {
		t.Fatalf("/metrics with another organisation's admin key is not 403 (key %q)", org.APIKey)
	}
	for i := 0; i < 3; i++ {
		get(t, url+"/v1/sandboxes/sbx_nothere", key)
	}
	fams := scrape(t, url+"/metrics", key)
	m := sample(fams, "hutch_http_request_seconds", map[string]string{"route": "/v1/sandboxes/{id}", "method": "GET", "code": "404"})
	if m == nil || m.GetHistogram().GetSampleCount() != 3 {
		t.Fatalf("requests by route template: %v", m)
	}
	for name := range fams {
		if strings.Contains(name, "sbx_nothere") {
			t.Fatalf("a path reached the metrics: %s", name)
		}
	}
	if m := sample(fams, "hutch_store_seconds", map[string]string{"op": "read", "outcome": "ok"}); m == nil || m.GetHistogram().GetSampleCount() == 0 {
		t.Fatalf("store reads not counted: %v", m)
	}
	if m := sample(fams, "hutch_host_cpus", nil); m == nil || m.GetGauge().GetValue() < 1 {
		t.Fatalf("host cpus: %v", m)
	}
	open := scrape(t, "http://"+cfg.HTTP.MetricsListen+"/metrics", "")
	if open["hutch_http_request_seconds"] == nil {
		t.Fatal("the metrics listener serves another registry")
	}
}
