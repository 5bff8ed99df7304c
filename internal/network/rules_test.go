package network_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hutchdev/hutch/internal/network"
)

// TestNewAddressDropsTheOldRules: a sandbox whose veth is made again on
// another address (its old one taken after a reboot) keeps one jump per
// shared chain and one NAT rule, for the new address; the rules of the
// old one go in the same iptables transaction. Remove leaves nothing.
func TestNewAddressDropsTheOldRules(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	id := fmt.Sprintf("readdr%d", os.Getpid())
	t.Cleanup(func() {
		if err := m.Remove(id); err != nil {
			t.Error(err)
		}
		if left := m.Leftovers(id); len(left) > 0 {
			t.Errorf("left after Remove: %v", left)
		}
	})
	pol := network.Policy{Internet: true}
	a, err := m.Ensure(ctx, id, pol, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, oldAddr, _ := m.Addresses(a)
	b, err := m.Ensure(ctx, id, pol, &network.Attachment{Slot: a.Slot + 7}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, newAddr, _ := m.Addresses(b)
	if b.Slot == a.Slot {
		t.Fatalf("slot %d kept, want %d", b.Slot, a.Slot+7)
	}
	count := map[string]int{}
	for _, r := range network.RulesOf(id) {
		if strings.Contains(r, oldAddr.String()+"/32") {
			t.Errorf("rule of the old address %s left: %s", oldAddr, r)
		}
		for _, c := range []string{"-A HUTCH-FORWARD ", "-A HUTCH-INPUT ", "-A HUTCH-INGRESS ", "-A HUTCH-POSTROUTING -s " + newAddr.String() + "/32 "} {
			if strings.HasPrefix(r, c) {
				count[c]++
			}
		}
	}
	for _, c := range []string{"-A HUTCH-FORWARD ", "-A HUTCH-INPUT ", "-A HUTCH-INGRESS ", "-A HUTCH-POSTROUTING -s " + newAddr.String() + "/32 "} {
		if count[c] != 1 {
			t.Errorf("%q: %d rules, want 1 (%v)", c, count[c], network.RulesOf(id))
		}
	}
}
