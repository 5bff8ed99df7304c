package daytona

import (
	"net/http"
)

// unsupportedControl are the sandbox routes of Daytona's API (and the
// services its SDK reaches beside them) that Hutch does not have: each
// answers 501 naming itself, rather than a 404 that reads as a missing
// sandbox. docs/compat.md lists them.
var unsupportedControl = []string{
	"POST /sandbox/{id}/resize",
	"POST /sandbox/{id}/backup",
	"POST /sandbox/{id}/snapshot",
	"POST /sandbox/{id}/fork",
	"GET /sandbox/{id}/forks",
	"GET /sandbox/{id}/parent",
	"GET /sandbox/{id}/ancestors",
	"PUT /sandbox/{id}/state",
	"GET /sandbox/{id}/build-logs",
	"GET /sandbox/{id}/build-logs-url",
	"POST /sandbox/{id}/ssh-access",
	"DELETE /sandbox/{id}/ssh-access",
	"GET /sandbox/ssh-access/validate",
	"GET /sandbox/{id}/organization",
	"GET /sandbox/{id}/region-quota",
	"PUT /sandbox/{id}/secrets",
	"POST /sandbox/{id}/secrets",
	"GET /sandbox/{id}/signing-key",
	"POST /sandbox/{id}/signing-key/rotate",
	"GET /sandbox/{id}/telemetry/logs",
	"GET /sandbox/{id}/telemetry/traces",
	"GET /sandbox/{id}/telemetry/traces/{traceId}",
	"GET /sandbox/{id}/telemetry/metrics",
	"GET /sandbox/for-runner",
	"GET /sandbox/{id}/ports/{port}/signed-preview-url",
	"POST /sandbox/{id}/ports/{port}/signed-preview-url/{token}/expire",
	"GET /config",
	"/snapshots",
	"/snapshots/",
	"/volumes",
	"/volumes/",
	"/object-storage/",
	"/docker-registry",
	"/docker-registry/",
	"/warm-pools",
	"/warm-pools/",
	"/secret",
	"/secret/",
}

// unsupported answers a Daytona feature Hutch does not have.
func (f *face) unsupported(w http.ResponseWriter, r *http.Request) error {
	return notSupported("%s %s is not supported by this server", r.Method, r.URL.Path)
}

// unsupportedToolbox are the toolbox's routes Hutch does not serve
// (method "" for every method below a path ending in /).
var unsupportedToolbox = []string{
	" /git/",
	" /lsp/",
	" /computeruse/",
	"GET /process/session/entrypoint",
	"GET /process/session/entrypoint/logs",
	"POST /process/session/{session}/command/{command}/input",
	" /process/pty",
	" /process/pty/",
	" /process/interpreter/",
	" /port",
	" /port/",
	"POST /files/upload-v2",
	"POST /env",
	"POST /init",
	"GET /system/metrics",
}
