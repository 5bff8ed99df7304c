package agent

import (
	"os/exec"

	"github.com/hutchdev/hutch/internal/initproc"
)

// startUser starts a process of the user's: with the OOM killer's
// preference the user's processes have (the agent itself runs at init's
// lower value, initproc.UserOOMScoreBonus below), and dumpable again once
// it executes, so that the user can trace it as in any container.
func startUser(cmd *exec.Cmd) error { return initproc.Ranked(cmd.Start) }
