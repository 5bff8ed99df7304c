// Command podinit is the hutch binary of the kube driver's tests: the
// "hutch kube", "hutch init" and "hutch agent" code paths of cmd/hutch
// without the server, built statically by the tests and imported into
// the test cluster as the agent image.
package main

import (
	"os"

	"github.com/hutchdev/hutch/internal/agent"
	"github.com/hutchdev/hutch/internal/initproc"
	"github.com/hutchdev/hutch/internal/podinit"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 {
		switch args[0] {
		case "kube":
			os.Exit(podinit.Main(args[1:]))
		case "agent":
			os.Exit(agent.Main(args[1:]))
		case "init":
			args = args[1:]
		}
	}
	os.Exit(initproc.Run(args))
}
