package e2b

import (
	"fmt"
	"net/http"

	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// registerControl is the control API's route table, with the paths as
// E2B's SDK and spec spell them.
func (f *face) registerControl(mux *http.ServeMux) {
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /sandboxes", f.Authed(f.create))
	mux.HandleFunc("POST /v2/sandboxes", f.Authed(f.create))
	mux.HandleFunc("GET /sandboxes", f.Authed(f.listV1))
	mux.HandleFunc("GET /v2/sandboxes", f.Authed(f.listV2))
	mux.HandleFunc("GET /sandboxes/{id}", f.Authed(f.get))
	mux.HandleFunc("DELETE /sandboxes/{id}", f.Authed(f.kill))
	mux.HandleFunc("POST /sandboxes/{id}/timeout", f.Authed(f.setTimeout))
	mux.HandleFunc("POST /sandboxes/{id}/refreshes", f.Authed(f.refresh))
	mux.HandleFunc("POST /sandboxes/{id}/pause", f.Authed(f.pause))
	mux.HandleFunc("POST /sandboxes/{id}/resume", f.Authed(f.resume))
	mux.HandleFunc("POST /sandboxes/{id}/connect", f.Authed(f.connect))
	mux.HandleFunc("POST /v2/sandboxes/{id}/connect", f.Authed(f.connect))
	mux.HandleFunc("PUT /sandboxes/{id}/network", f.Authed(f.updateNetwork))
	mux.HandleFunc("GET /sandboxes/{id}/metrics", f.Authed(f.metrics))
	mux.HandleFunc("GET /sandboxes/metrics", f.Authed(f.metricsMany))
	mux.HandleFunc("GET /sandboxes/{id}/logs", f.Authed(f.logsV1))
	mux.HandleFunc("GET /v2/sandboxes/{id}/logs", f.Authed(f.logsV2))
	mux.HandleFunc("GET /templates", f.Authed(f.templates))
	mux.HandleFunc("GET /v2/templates", f.Authed(f.templates))
	mux.HandleFunc("GET /templates/aliases/{alias}", f.Authed(f.templateAlias))
	for _, route := range unsupported {
		mux.HandleFunc(route.pattern, f.Authed(notSupported(route.what)))
	}
}

// unsupported are E2B features Hutch does not have: they answer E2B's
// error with 501, not a fake success and not a 404 that the SDK would
// read as a missing sandbox.
var unsupported = []struct{ pattern, what string }{
	{"POST /sandboxes/{id}/fork", "forking a sandbox"},
	{"POST /sandboxes/{id}/snapshots", "snapshots"},
	{"GET /snapshots", "snapshots"},
	{"POST /templates", building},
	{"POST /v2/templates", building},
	{"POST /v3/templates", building},
	{"GET /templates/{templateID}", "template builds"},
	{"POST /templates/{templateID}", building},
	{"PATCH /templates/{templateID}", building},
	{"PATCH /v2/templates/{templateID}", building},
	{"DELETE /templates/{templateID}", "deleting templates (remove the image through Hutch's API)"},
	{"POST /templates/{templateID}/builds/{buildID}", building},
	{"POST /v2/templates/{templateID}/builds/{buildID}", building},
	{"GET /templates/{templateID}/builds/{buildID}/status", "template builds"},
	{"GET /templates/{templateID}/builds/{buildID}/logs", "template builds"},
	{"GET /templates/{templateID}/files/{hash}", building},
	{"GET /templates/tags", "template tags"},
	{"POST /templates/tags", "template tags"},
	{"DELETE /templates/tags", "template tags"},
	{"GET /volumes", "volumes"},
	{"POST /volumes", "volumes"},
	{"GET /volumes/{volumeID}", "volumes"},
	{"DELETE /volumes/{volumeID}", "volumes"},
	{"GET /secrets", "secrets"},
	{"POST /secrets", "secrets"},
	{"GET /secrets/{secretID}", "secrets"},
	{"PATCH /secrets/{secretID}", "secrets"},
	{"DELETE /secrets/{secretID}", "secrets"},
	{"GET /teams", "teams"},
	{"GET /teams/{teamID}/metrics", "team metrics"},
	{"GET /teams/{teamID}/metrics/max", "team metrics"},
}

const building = "building templates (import or pull an image into Hutch instead)"

func notSupported(what string) compat.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%s is not supported by this server: %w", what, errdefs.ErrNotImplemented)
	}
}
