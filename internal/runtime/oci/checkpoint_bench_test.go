package oci

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/poll"
	"github.com/hutchdev/hutch/internal/runtime"
)

// BenchmarkCheckpoint times pause with the memory released (freeze and
// checkpoint) and resume (restore and thaw) of a sandbox holding 16, 256
// and 1024 MiB, and reports the image size. Run it alone:
// go test -run '^$' -bench Checkpoint -benchtime 3x ./internal/runtime/oci/
func BenchmarkCheckpoint(b *testing.B) {
	for _, mib := range []int{16, 256, 1024} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) { benchCheckpoint(b, mib) })
	}
}

func benchCheckpoint(b *testing.B, mib int) {
	d := newInternalDriver(b)
	if why := d.checkpointUnsupported(); why != "" {
		b.Skip(why)
	}
	ctx := context.Background()
	// The shell keeps x (mib MiB) for as long as it loops.
	hold := fmt.Sprintf(`x=$(head -c %d /dev/zero | tr '\0' a) && echo ${#x} > /tmp/held && while :; do sleep 1; done`, mib<<20)
	var pause, resume time.Duration
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Each round has a fresh sandbox, so that every round dumps
		// memory the shell has just written (TestCheckpointAgain covers
		// checkpointing a restored one).
		b.StopTimer()
		s := runtime.Spec{ID: fmt.Sprintf("ckbench%d-%d-%d", mib, os.Getpid(), i), DiskMB: 256, MemoryMB: int64(mib*2 + 256),
			Entrypoint: []string{"/bin/sh", "-c", hold}}
		b.Cleanup(func() { _ = d.Delete(context.Background(), s.ID) })
		if err := d.Create(ctx, s); err != nil {
			b.Fatal(err)
		}
		held := poll.Wait(10*time.Minute, func() bool { // busybox builds 1 GiB slowly
			rec, err := d.load(s.ID)
			if err != nil {
				return false
			}
			got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/tmp/held", rec.InitPID))
			return string(got) == strconv.Itoa(mib<<20)+"\n"
		})
		if !held {
			b.Fatalf("the sandbox does not hold %d MiB", mib)
		}
		b.StartTimer()
		start := time.Now()
		if err := d.Pause(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
		n, err := d.Checkpoint(ctx, s.ID)
		if err != nil {
			b.Fatal(err)
		}
		pause += time.Since(start)
		size = n
		start = time.Now()
		if err := d.Resume(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
		resume += time.Since(start)
		b.StopTimer()
		_ = d.Delete(ctx, s.ID)
		b.StartTimer()
	}
	b.ReportMetric(float64(pause.Milliseconds())/float64(b.N), "pause-release-ms/op")
	b.ReportMetric(float64(resume.Milliseconds())/float64(b.N), "resume-ms/op")
	b.ReportMetric(float64(size)/(1<<20), "image-MiB")
	b.ReportMetric(0, "ns/op")
}
