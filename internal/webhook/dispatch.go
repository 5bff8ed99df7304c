package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hutchdev/hutch/internal/egress"
)

// Purpose names webhook receivers in the egress guard's refusals.
const Purpose = "webhook target"

// Headers of every delivery.
const (
	HeaderSignature = "X-Hutch-Signature" // "sha256=" + hex HMAC-SHA256 of the body with the secret
	HeaderTimestamp = "X-Hutch-Timestamp" // unix seconds of the attempt; the body's sentAt says the same
	HeaderDelivery  = "X-Hutch-Delivery"  // the same on every retry of one delivery: receivers dedupe on it
	HeaderEvent     = "X-Hutch-Event"
)

// EventState names a sandbox state change.
const EventState = "sandbox.state"

// Payload is the JSON body of a delivery. SentAt is inside the signed
// body, so a receiver that rejects old timestamps rejects replays.
type Payload struct {
	DeliveryID     string    `json:"deliveryId"`
	Type           string    `json:"type"`
	EventID        int64     `json:"eventId"`
	OrganizationID string    `json:"organizationId"`
	SandboxID      string    `json:"sandboxId"`
	SandboxName    string    `json:"sandboxName"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Cause          string    `json:"cause"`
	Message        string    `json:"message,omitempty"`
	Time           time.Time `json:"time"`
	SentAt         time.Time `json:"sentAt"`
	Attempt        int       `json:"attempt"`
}

// Sign returns the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in
// constant time.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// Config tunes the dispatcher.
type Config struct {
	// Interval is how often pending deliveries are looked for.
	Interval time.Duration
	// Backoff is the wait after the first failed attempt; it doubles with
	// each further failure up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxAttempts is when a delivery is given up (about 1h40m of retries
	// with the defaults).
	MaxAttempts int
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Egress checks every connection a delivery opens, redirects'
	// included; nil refuses every internal address.
	Egress *egress.Guard
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{Interval: time.Second, Backoff: time.Second, MaxBackoff: 10 * time.Minute, MaxAttempts: 15, Timeout: 10 * time.Second}
}

// Dispatcher sends due deliveries and records each outcome in the store
// before it moves on, so that a restart resumes where it stopped (a
// delivery in flight during a crash is sent again: at least once).
type Dispatcher struct {
	st     Store
	cfg    Config
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
}

// NewDispatcher returns a dispatcher over st.
func NewDispatcher(st Store, cfg Config, log *slog.Logger) *Dispatcher {
	client := &http.Client{Timeout: cfg.Timeout, Transport: cfg.Egress.Transport(Purpose)}
	return &Dispatcher{st: st, cfg: cfg, client: client, log: log, now: time.Now}
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	lastPurge := time.Time{}
	for {
		if err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("webhook deliveries", "err", err)
		}
		if now := d.now(); now.Sub(lastPurge) > time.Hour {
			lastPurge = now
			if _, err := d.st.PurgeDeliveries(ctx, now.Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
				d.log.Warn("purge webhook deliveries", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// A pass claims up to passBatch deliveries and sends passParallel at a
// time; its claim lasts until the last of them may have run its timeout.
const (
	passBatch    = 64
	passParallel = 4
)

// Pass sends every delivery due now, a few at a time.
func (d *Dispatcher) Pass(ctx context.Context) error {
	lease := time.Duration(passBatch/passParallel+1) * d.cfg.Timeout
	due, err := d.st.ClaimDeliveries(ctx, d.now().UTC(), lease, passBatch)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, passParallel)
	for _, dl := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.deliver(ctx, dl)
		}()
	}
	wg.Wait()
	return nil
}

func (d *Dispatcher) deliver(ctx context.Context, dl *Delivery) {
	attempt := dl.Attempts + 1
	start := d.now()
	status, err := d.send(ctx, dl, attempt)
	// The outcome is recorded even when shutdown began during the send:
	// a delivery that got through must not be sent again on restart.
	ctx = context.WithoutCancel(ctx)
	now := d.now().UTC()
	a := &Attempt{WebhookID: dl.WebhookID, DeliveryID: dl.ID, Event: EventState, SandboxID: dl.SandboxID,
		From: dl.From, To: dl.To, Attempt: attempt, Time: start.UTC(), StatusCode: status, Latency: now.Sub(start)}
	var serr error
	switch {
	case err == nil:
		a.Outcome = OutcomeDelivered
		serr = d.st.FinishDelivery(ctx, dl.ID, now, true, "")
	case attempt >= d.cfg.MaxAttempts:
		a.Outcome, a.Error = OutcomeFailed, err.Error()
		d.log.Warn("webhook delivery given up", "webhook", dl.WebhookID, "delivery", dl.ID, "attempts", attempt, "err", err)
		serr = d.st.FinishDelivery(ctx, dl.ID, now, false, err.Error())
	default:
		a.Outcome, a.Error = OutcomeRetrying, err.Error()
		wait := d.cfg.Backoff << min(attempt-1, 30)
		if wait <= 0 || wait > d.cfg.MaxBackoff {
			wait = d.cfg.MaxBackoff
		}
		d.log.Debug("webhook delivery failed; retrying", "delivery", dl.ID, "attempt", attempt, "in", wait, "err", err)
		serr = d.st.RetryDelivery(ctx, dl.ID, attempt, now.Add(wait), err.Error())
	}
	if serr == nil {
		serr = d.st.RecordAttempt(ctx, a)
	}
	if serr != nil && ctx.Err() == nil {
		d.log.Warn("record webhook delivery", "delivery", dl.ID, "err", serr)
	}
}

// send makes one attempt and returns the receiver's status (0 without
// an answer); any answer but 2xx is a failure.
func (d *Dispatcher) send(ctx context.Context, dl *Delivery, attempt int) (int, error) {
	sent := d.now().UTC().Truncate(time.Second)
	body, err := json.Marshal(Payload{
		DeliveryID: strconv.FormatInt(dl.ID, 10), Type: EventState, EventID: dl.EventID,
		OrganizationID: dl.OrganizationID, SandboxID: dl.SandboxID, SandboxName: dl.SandboxName,
		From: dl.From, To: dl.To, Cause: dl.Cause, Message: dl.Message, Time: dl.Time, SentAt: sent, Attempt: attempt,
	})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hutch-webhooks")
	req.Header.Set(HeaderSignature, Sign(dl.Secret, body))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(sent.Unix(), 10))
	req.Header.Set(HeaderDelivery, strconv.FormatInt(dl.ID, 10))
	req.Header.Set(HeaderEvent, EventState)
	resp, err := d.client.Do(req)
	var refused *egress.RefusedError
	if errors.As(err, &refused) {
		return 0, refused // without the dial's text, which shows what a name resolved to
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		// The code only: the status line's text is the receiver's to choose.
		return resp.StatusCode, fmt.Errorf("receiver answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return resp.StatusCode, nil
}
