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

// StreamEvent is one server-sent event of GET /v1/events?follow=true: an
// event of the organisation's sandboxes, with the sandbox's name and the
// state it was left in.
type StreamEvent struct {
	Event
	SandboxName string `json:"sandboxName"`
	State       string `json:"state"`
}
