package opensandbox

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// sandboxKey carries the sandbox an execd or port request is for.
type sandboxKey struct{}

func sandboxOf(ctx context.Context) string {
	id, _ := ctx.Value(sandboxKey{}).(string)
	return id
}

// registerSandboxPorts serves the endpoints handed out by GET
// .../endpoints/{port}: /sandboxes/{id}/port/{port}/... is execd for
// 44772 and the port proxy for every other port. Both authenticate with
// the OPEN-SANDBOX-API-KEY the SDK sends to execd too.
func (f *face) registerSandboxPorts(mux *http.ServeMux) {
	execd := f.execdHandler()
	proxy := f.portProxy()
	h := f.Authed(func(w http.ResponseWriter, r *http.Request) error {
		id, rawPort := r.PathValue("id"), r.PathValue("port")
		port, err := strconv.Atoi(rawPort)
		if err != nil || sandbox.ValidatePort(port) != nil {
			return errdefs.InvalidField("port", "%q is not a port from 1 to 65535", rawPort)
		}
		prefix := "/sandboxes/" + id + "/port/" + rawPort
		r2 := r.Clone(context.WithValue(r.Context(), sandboxKey{}, id))
		r2.URL.Path = "/" + r.PathValue("path")
		r2.URL.RawPath = ""
		if port == ExecdPort {
			execd.ServeHTTP(w, r2)
			return nil
		}
		return f.proxyPort(w, r2, proxy, id, port, f.prefix+prefix)
	})
	mux.HandleFunc("/sandboxes/{id}/port/{port}", h)
	mux.HandleFunc("/sandboxes/{id}/port/{port}/{path...}", h)
}

// isSandboxRoute reports whether r is (below) a sandbox port route, whose
// errors are worded as execd's.
func isSandboxRoute(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/sandboxes/") || sandboxOf(r.Context()) != ""
}
