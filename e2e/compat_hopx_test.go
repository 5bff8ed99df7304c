package e2e

import "testing"

// TestHopXSDK drives the HopX face with @hopx-ai/sdk, unpatched.
func TestHopXSDK(t *testing.T) { runSDK(t, "hopx.test.mjs") }
