package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCompatSDKsOnKube runs the four vendors' SDK suites, unpatched and
// as they run against one machine, against the Kubernetes deployment:
// two replicas of hutch serve on one PostgreSQL database, every sandbox
// a pod of a k3s cluster. The suites talk to replica B while A leads
// (holds the reconciler), so every call crosses replicas' state through
// the database. The images the suites ask for by name (base, and python
// behind HopX's code-interpreter) are this machine's offline images,
// imported into the cluster and named with --kube-images, as an operator
// without a registry does (docs/kubernetes.md).
func TestCompatSDKsOnKube(t *testing.T) {
	needSDKs(t)
	images := filepath.Dir(baseTar)
	for _, name := range []string{"base", "python"} {
		if _, err := os.Stat(filepath.Join(images, name+".tar")); err != nil {
			t.Fatalf("%s.tar is missing (scripts/setup.sh builds it): %v", name, err)
		}
	}
	k := startKube(t)
	for _, name := range []string{"base", "python"} {
		if err := k.c.ImportRootfs("hutch.local/"+name+":e2e", filepath.Join(images, name+".tar")); err != nil {
			t.Fatal(err)
		}
	}
	flags := append(k.flags(), "--store", startPostgres(t),
		"--kube-images", "base=hutch.local/base:e2e,python=hutch.local/python:e2e")
	a := startReplica(t, flags...)
	waitLogged(t, a, "elected leader")
	b := startReplica(t, flags...)
	for _, script := range []string{"hopx.test.mjs", "e2b.test.mjs", "daytona.test.mjs", "opensandbox.test.mjs"} {
		t.Run(script, func(t *testing.T) { runScript(t, b, script) })
	}
	k.waitNoLeftovers(t)
}
