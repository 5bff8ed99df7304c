package e2e

import "testing"

// TestOpenSandboxSDK drives the OpenSandbox face with
// @alibaba-group/opensandbox, unpatched: lifecycle, execd and the port
// endpoints against real sandboxes.
func TestOpenSandboxSDK(t *testing.T) { runSDK(t, "opensandbox.test.mjs") }
