// Command hutchinit is the init binary of the runtime tests: the same code
// path as "hutch init", built statically by the tests themselves.
package main

import (
	"os"

	"github.com/hutchdev/hutch/internal/initproc"
)

func main() { os.Exit(initproc.Run(os.Args[1:])) }
