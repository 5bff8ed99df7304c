package e2e

import "testing"

// TestE2BSDK drives /compat/e2b and its envd with E2B's own SDK (e2b on
// npm, pinned in compat/package.json, unpatched): create, commands,
// files, list by metadata and state, timeout, pause with envd refused,
// resume through connect, kill.
func TestE2BSDK(t *testing.T) { runSDK(t, "e2b.test.mjs") }
