package dashboard

import (
	"errors"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/auth"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// TestTickets: a ticket names its caller and sandbox once; a second use,
// an expired ticket and an unknown one are the same 401; the number
// waiting is bounded, and expired ones make room.
func TestTickets(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tk := newTickets(30*time.Second, func() time.Time { return now })
	alice := auth.Principal{OrganizationID: "org_a", KeyID: "key_a"}
	secret, exp, err := tk.issue(alice, "sbx_1")
	if err != nil || !exp.Equal(now.Add(30*time.Second)) {
		t.Fatalf("issue: %v, expires %v", err, exp)
	}
	other, _, _ := tk.issue(alice, "sbx_2")
	if secret == other {
		t.Fatal("two tickets are the same")
	}
	caller, id, err := tk.take(secret)
	if err != nil || caller != alice || id != "sbx_1" {
		t.Fatalf("take: %v %v %v", caller, id, err)
	}
	if _, _, err := tk.take(secret); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Errorf("second use: %v", err)
	}
	if _, _, err := tk.take("tt_unknown"); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Errorf("unknown: %v", err)
	}
	now = now.Add(30 * time.Second)
	if _, _, err := tk.take(other); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Errorf("expired: %v", err)
	}

	for i := 0; i < maxTickets; i++ {
		if _, _, err := tk.issue(alice, "sbx_1"); err != nil {
			t.Fatalf("ticket %d: %v", i, err)
		}
	}
	if _, _, err := tk.issue(alice, "sbx_1"); !errors.Is(err, errdefs.ErrResourceExhausted) {
		t.Errorf("past the bound: %v", err)
	}
	now = now.Add(31 * time.Second)
	if _, _, err := tk.issue(alice, "sbx_1"); err != nil {
		t.Errorf("after the waiting ones expired: %v", err)
	}
}
