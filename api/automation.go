package api

import "time"

// Webhook is a registered receiver of the organisation's state changes.
// Secret is only set in the answer to POST /v1/webhooks.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// CreateWebhookRequest is the body of POST /v1/webhooks.
type CreateWebhookRequest struct {
	URL string `json:"url"`
}

// WebhookList is the body of GET /v1/webhooks.
type WebhookList struct {
	Items []Webhook `json:"items"`
}

// WebhookDelivery is one attempt to deliver an event to a webhook.
// DeliveryID is the X-Hutch-Delivery header the receiver saw (the same on
// every retry); StatusCode is 0 when the receiver gave no answer, and
// Error is empty when the attempt got through. Outcome is "delivered",
// "retrying" (failed, tried again later) or "failed" (given up).
type WebhookDelivery struct {
	DeliveryID string    `json:"deliveryId"`
	Event      string    `json:"event"`
	SandboxID  string    `json:"sandboxId"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Attempt    int       `json:"attempt"`
	Time       time.Time `json:"time"`
	StatusCode int       `json:"statusCode"`
	Error      string    `json:"error,omitempty"`
	LatencyMs  float64   `json:"latencyMs"`
	Outcome    string    `json:"outcome"`
}

// WebhookDeliveryList is the body of GET /v1/webhooks/{id}/deliveries:
// the newest attempts first, at most 50.
type WebhookDeliveryList struct {
	Items []WebhookDelivery `json:"items"`
}

// StreamEvent is one server-sent event of GET /v1/events?follow=true: an
// event of the organisation's sandboxes, with the sandbox's name and the
// state it was left in.
type StreamEvent struct {
	Event
	SandboxName string `json:"sandboxName"`
	State       string `json:"state"`
}
