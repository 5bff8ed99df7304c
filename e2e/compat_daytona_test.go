package e2e

import "testing"

// TestDaytonaSDK drives the Daytona face with @daytonaio/sdk, unpatched.
func TestDaytonaSDK(t *testing.T) { runSDK(t, "daytona.test.mjs") }
