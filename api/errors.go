package api

// ErrorBody is the one error envelope of the native API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the content of the error envelope.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// Error codes of the native API.
const (
	CodeUnauthenticated   = "UNAUTHENTICATED"
	CodeForbidden         = "FORBIDDEN"
	CodeInvalidArgument   = "INVALID_ARGUMENT"
	CodeNotFound          = "NOT_FOUND"
	CodeSandboxNotFound   = "SANDBOX_NOT_FOUND"
	CodeAlreadyExists     = "ALREADY_EXISTS"
	CodeConflict          = "CONFLICT"
	CodeInvalidState      = "INVALID_STATE"
	CodeSandboxPaused     = "SANDBOX_PAUSED"
	CodeResourceExhausted = "RESOURCE_EXHAUSTED"
	CodeUnavailable       = "UNAVAILABLE"
	CodeNotImplemented    = "NOT_IMPLEMENTED"
	CodeInternal          = "INTERNAL"
	// CodeAgentOutdated (503): the sandbox's agent speaks an older
	// protocol than the call needs; restarting the sandbox fixes it.
	CodeAgentOutdated = "AGENT_OUTDATED"
)

// Codes of the agent's own not-found answers, so that a client can tell a
// missing process or file from a missing sandbox.
const (
	CodeProcessNotFound = "PROCESS_NOT_FOUND"
	CodeContextNotFound = "CONTEXT_NOT_FOUND"
	CodeFileNotFound    = "FILE_NOT_FOUND"
)
