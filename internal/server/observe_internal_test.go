package server

import (
	"context"
	"testing"
	"time"

	"github.com/hutchdev/hutch/internal/gateway"
	"github.com/hutchdev/hutch/internal/metrics"
	"github.com/hutchdev/hutch/internal/webhook"
)

// deliveries records the dispatcher's outcomes as a store would.
type deliveries struct {
	webhook.Store
	finished, retried int
}

func (d *deliveries) FinishDelivery(context.Context, int64, time.Time, bool, string) error {
	d.finished++
	return nil
}

func (d *deliveries) RetryDelivery(context.Context, int64, int, time.Time, string) error {
	d.retried++
	return nil
}

func TestDeliveriesCounted(t *testing.T) {
	m := metrics.New(metrics.Sources{}, nil)
	st := &deliveries{}
	c := countingDeliveries{Store: st, m: m}
	ctx := context.Background()
	_ = c.FinishDelivery(ctx, 1, time.Now(), true, "")
	_ = c.FinishDelivery(ctx, 2, time.Now(), true, "")
	_ = c.FinishDelivery(ctx, 3, time.Now(), false, "gave up")
	_ = c.RetryDelivery(ctx, 4, 1, time.Now(), "503")
	if st.finished != 3 || st.retried != 1 {
		t.Fatalf("the store got %d finished, %d retried", st.finished, st.retried)
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "hutch_webhook_deliveries_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			got[mt.GetLabel()[0].GetValue()] = mt.GetCounter().GetValue()
		}
	}
	if got["delivered"] != 2 || got["failed"] != 1 || got["retry"] != 1 {
		t.Fatalf("deliveries counted %v", got)
	}
}

func TestRequestKind(t *testing.T) {
	for _, c := range []struct {
		method, route string
		want          metrics.Kind
	}{
		{"POST", "/v1/sandboxes/{id}/exec", metrics.KindAgent},
		{"GET", "/v1/sandboxes/{id}/files", metrics.KindAgent},
		{"GET", "/v1/sandboxes/{id}/ports/{port}/{path...}", metrics.KindProxy},
		{"GET", "{port}-{id}.localhost", metrics.KindProxy},
		{"POST", "/v1/sandboxes/{id}/ports/{port}/url", metrics.KindAPI},
		{"GET", "/v1/sandboxes", metrics.KindAPI},
	} {
		if got := requestKind(gateway.Answered{Method: c.method, Route: c.route}); got != c.want {
			t.Errorf("%s %s: kind %v, want %v", c.method, c.route, got, c.want)
		}
	}
}
