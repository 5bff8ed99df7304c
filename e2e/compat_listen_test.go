package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"testing"
)

// TestCompatOwnListeners: --compat-<vendor>-listen serves that vendor's
// API at the root of a listener of its own, besides /compat/<vendor>,
// with the same keys and sandboxes.
func TestCompatOwnListeners(t *testing.T) {
	// The three ports are held until all are known: a port given back
	// before the next is taken may be handed out again, and so may one
	// the server's API listener takes with port 0.
	free := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	apiLn, hopxLn, daytonaLn := free(), free(), free()
	apiAddr, hopxAddr, daytonaAddr := apiLn.Addr().String(), hopxLn.Addr().String(), daytonaLn.Addr().String()
	apiLn.Close()
	hopxLn.Close()
	daytonaLn.Close()
	s := startServer(t, "", "--listen", apiAddr, "--compat-hopx-listen", hopxAddr, "--compat-daytona-listen", daytonaAddr)
	get := func(url, header, value string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set(header, value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, m := get("http://"+hopxAddr+"/v1/sandboxes", "X-API-Key", s.key); st != 200 || m["object"] != "list" {
		t.Fatalf("hopx at its own root: %d %v", st, m)
	}
	if st, _ := get("http://"+hopxAddr+"/v1/sandboxes", "X-API-Key", "hk_wrong"); st != 401 {
		t.Fatalf("hopx with a wrong key: %d", st)
	}
	if st, m := get("http://"+daytonaAddr+"/sandbox", "Authorization", "Bearer "+s.key); st != 200 {
		t.Fatalf("daytona at its own root: %d %v", st, m)
	}
	if st, m := get(s.url+"/compat/hopx/v1/sandboxes", "X-API-Key", s.key); st != 200 || m["object"] != "list" {
		t.Fatalf("hopx under its prefix: %d %v", st, m)
	}
}
