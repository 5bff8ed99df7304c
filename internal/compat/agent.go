package compat

import (
	"context"

	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/sandbox"
)

// AgentCall is an open use of one sandbox's agent through the typed
// client; Close ends it.
type AgentCall struct {
	*sandbox.AgentSession
	Client *client.Client
}

// OpenAgent opens the agent of a sandbox of orgID through the domain's
// door (running only; paused answers errdefs.ErrPaused at once).
func (d Deps) OpenAgent(ctx context.Context, orgID, idOrName string) (*AgentCall, error) {
	sess, err := d.Sandboxes.OpenAgent(ctx, orgID, idOrName)
	if err != nil {
		return nil, err
	}
	return &AgentCall{AgentSession: sess, Client: d.Agents.Client(sess)}, nil
}

// OpenAgentByToken opens the agent of sandbox id for a caller that proved
// itself with a vendor agent token (checked here): no API key reaches the
// agent side, and a token of another sandbox, or none, is the vendor's
// 401.
func (d Deps) OpenAgentByToken(ctx context.Context, vendor, id, token string) (*AgentCall, error) {
	if !d.Tokens.Valid(vendor, id, token) {
		return nil, errInvalidToken(id)
	}
	sb, err := d.Sandboxes.GetByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return d.OpenAgent(ctx, sb.OrganizationID, sb.ID)
}
