package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/hutchdev/hutch/api"
)

// BenchmarkExecTrue is the round trip of `exec true` through the API: the
// HTTP call with its key check, the state check, the unix socket into the
// sandbox, the agent's fork and exec, and the answer. The floor to beat
// is a plain `crun exec` (about 15 ms on the reference machine).
func BenchmarkExecTrue(b *testing.B) {
	s := startServer(b, "")
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sb, err := s.c.CreateSandbox(c, api.CreateSandboxRequest{Entrypoint: idle})
	if err != nil {
		b.Fatal(err)
	}
	tracked = append(tracked, sb.ID)
	req := api.ExecRequest{Command: []string{"true"}}
	if _, err := s.c.Exec(c, sb.ID, req); err != nil { // warm the connection pools
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.c.Exec(c, sb.ID, req)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("exec true: %v %+v", err, res)
		}
	}
}

// BenchmarkCreateFirstExec is a create followed by the first call that
// the agent answers, which includes the agent's start-up; compare it with
// the lifecycle's create benchmark to see what the agent adds.
func BenchmarkCreateFirstExec(b *testing.B) {
	s := startServer(b, "")
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	req := api.ExecRequest{Command: []string{"true"}}
	var create, first time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		sb, err := s.c.CreateSandbox(c, api.CreateSandboxRequest{Entrypoint: idle})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.c.Exec(c, sb.ID, req); err != nil {
			b.Fatal(err)
		}
		create += t1.Sub(t0)
		first += time.Since(t1)
		b.StopTimer()
		if _, err := s.c.DeleteSandbox(c, sb.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(create.Microseconds())/float64(b.N)/1000, "create-ms")
	b.ReportMetric(float64(first.Microseconds())/float64(b.N)/1000, "first-exec-ms")
}
