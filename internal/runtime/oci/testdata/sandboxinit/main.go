// Command sandboxinit is the init binary of the oci driver's tests: the
// "hutch init" and "hutch agent" code paths of cmd/hutch without the
// server, built statically by the tests themselves, so that a sandbox's
// agent answers as it does in production.
package main

import (
	"os"

	"github.com/hutchdev/hutch/internal/agent"
	"github.com/hutchdev/hutch/internal/initproc"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "agent" {
		os.Exit(agent.Main(args[1:]))
	}
	if len(args) > 0 && args[0] == "init" {
		args = args[1:]
	}
	os.Exit(initproc.Run(args))
}
