package e2b

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// TestEgress walks E2B's egress forms: those that mean the same under
// Hutch's rules are translated, the others refused naming the field.
func TestEgress(t *testing.T) {
	for _, c := range []struct {
		name, body  string
		allow, deny string
		field       string
	}{
		{"none", `{}`, "", "", ""},
		{"deny some", `{"denyOut":["1.1.1.1","10.0.0.0/8"]}`, "", "1.1.1.1/32,10.0.0.0/8", ""},
		{"deny all", `{"denyOut":["0.0.0.0/0"]}`, "", "0.0.0.0/0", ""},
		{"only these", `{"denyOut":["0.0.0.0/0","8.8.8.8"],"allowOut":["1.1.1.1","192.168.1.7/24"]}`, "1.1.1.1/32,192.168.1.0/24", "", ""},
		{"allow alone allows all", `{"allowOut":["1.1.1.1"]}`, "", "", ""},
		{"public traffic flag", `{"allowPublicTraffic":false}`, "", "", ""},
		{"holes in a partial deny", `{"denyOut":["10.0.0.0/8"],"allowOut":["10.1.0.0/16"]}`, "", "", "network.allowOut"},
		{"domain", `{"allowOut":["example.com"],"denyOut":["0.0.0.0/0"]}`, "", "", "network.allowOut"},
		{"ipv6", `{"denyOut":["::1"]}`, "", "", "network.denyOut"},
		{"egress proxy", `{"egressProxy":{"address":"p:1080"}}`, "", "", "network.egressProxy"},
		{"rules", `{"rules":{"a.com":[{}]}}`, "", "", "network.rules"},
		{"mask", `{"maskRequestHost":"x"}`, "", "", "network.maskRequestHost"},
	} {
		var n networkConfig
		if err := json.Unmarshal([]byte(c.body), &n); err != nil {
			t.Fatal(err)
		}
		allow, deny, err := n.egress()
		var fe *errdefs.FieldError
		switch {
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.field)
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case strings.Join(allow, ",") != c.allow || strings.Join(deny, ",") != c.deny:
			t.Errorf("%s: allow %v deny %v, want %q %q", c.name, allow, deny, c.allow, c.deny)
		}
	}
	if n := networkOf(sandbox.Network{AllowCIDRs: []string{"1.1.1.1/32"}}); n == nil || strings.Join(n.DenyOut, ",") != "0.0.0.0/0" {
		t.Errorf("allow list echoed as %+v", n)
	}
}

// TestParseMetadata: the SDK's doubly encoded pairs and the spec's plain
// ones both read.
func TestParseMetadata(t *testing.T) {
	for raw, want := range map[string]map[string]string{
		"user=abc&app=prod":                 {"user": "abc", "app": "prod"},
		"team%252Fname=a%2520b%253Dc%2526d": {"team/name": "a b=c&d"},
		"":                                  nil,
	} {
		got, err := parseMetadata(raw)
		if err != nil || len(got) != len(want) {
			t.Errorf("%q: %v %v", raw, got, err)
			continue
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%q: %s = %q, want %q", raw, k, got[k], v)
			}
		}
	}
	if _, err := parseMetadata("a=%zz"); err == nil {
		t.Error("a broken escape is accepted")
	}
}

// TestStates: every Hutch state has an E2B word, and the filter sets are
// exactly the states with that word.
func TestStates(t *testing.T) {
	seen := map[sandbox.State]bool{}
	for _, w := range []string{"running", "paused"} {
		for _, s := range statesOf(w) {
			if seen[s] || state(s) != w || gone(s) {
				t.Errorf("%s listed under %s", s, w)
			}
			seen[s] = true
		}
	}
	for _, s := range sandbox.States {
		if !seen[s] && !gone(s) {
			t.Errorf("state %s is in no E2B list", s)
		}
	}
}
