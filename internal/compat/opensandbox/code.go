package opensandbox

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// codeContext is execd's CodeContext.
type codeContext struct {
	ID       string `json:"id,omitempty"`
	Language string `json:"language"`
}

// languages are the context languages Hutch's agent runs, by execd's
// names; execd's default is python.
var languages = map[string]string{"": "python", "python": "python", "python3": "python",
	"javascript": "javascript", "js": "javascript", "node": "javascript"}

func language(field, name string) (string, error) {
	l, ok := languages[strings.ToLower(name)]
	if !ok {
		return "", errdefs.InvalidField(field, "%q contexts are not supported here (python, javascript)", name)
	}
	return l, nil
}

func (f *face) createContext(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req codeContext
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	lang, err := language("language", req.Language)
	if err != nil {
		return err
	}
	c, err := call.Client.CreateContext(r.Context(), call.Sandbox.ID, api.CreateContextRequest{Language: lang})
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, codeContext{ID: c.ID, Language: c.Language})
	return nil
}

// contexts lists the sandbox's contexts of ?language= (all without it).
func (f *face) contexts(r *http.Request, call *compat.AgentCall) ([]api.CodeContext, error) {
	all, err := call.Client.ListContexts(r.Context(), call.Sandbox.ID)
	if err != nil {
		return nil, err
	}
	want := r.URL.Query().Get("language")
	if want == "" {
		return all, nil
	}
	lang, err := language("language", want)
	if err != nil {
		return nil, err
	}
	var out []api.CodeContext
	for _, c := range all {
		if c.Language == lang {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *face) listContexts(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	cs, err := f.contexts(r, call)
	if err != nil {
		return err
	}
	out := []codeContext{}
	for _, c := range cs {
		out = append(out, codeContext{ID: c.ID, Language: c.Language})
	}
	compat.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (f *face) deleteContexts(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	if r.URL.Query().Get("language") == "" {
		return errdefs.InvalidField("language", "is required")
	}
	cs, err := f.contexts(r, call)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := call.Client.DeleteContext(r.Context(), call.Sandbox.ID, c.ID); err != nil {
			return err
		}
	}
	noBody(w, http.StatusOK)
	return nil
}

func (f *face) getContext(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	cs, err := call.Client.ListContexts(r.Context(), call.Sandbox.ID)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.ID == r.PathValue("ctx") {
			compat.WriteJSON(w, http.StatusOK, codeContext{ID: c.ID, Language: c.Language})
			return nil
		}
	}
	return &client.Error{Status: http.StatusNotFound, Code: api.CodeContextNotFound, Message: "no code context " + r.PathValue("ctx")}
}

func (f *face) deleteContext(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	if err := call.Client.DeleteContext(r.Context(), call.Sandbox.ID, r.PathValue("ctx")); err != nil {
		return err
	}
	noBody(w, http.StatusOK)
	return nil
}

// runCode runs code in a context (a fresh one, dropped afterwards, when
// the request names none) and answers execd's event stream. Hutch's
// agent answers a run whole, so the events come at its end: init (the
// context id), stdout, stderr, result (the value of the last expression
// by MIME type), then error or execution_complete.
func (f *face) runCode(w http.ResponseWriter, r *http.Request, call *compat.AgentCall) error {
	var req struct {
		Context *codeContext `json:"context"`
		Code    string       `json:"code"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if req.Code == "" {
		return errdefs.InvalidField("code", "is required")
	}
	id := call.Sandbox.ID
	ctxID := ""
	if req.Context != nil {
		ctxID = req.Context.ID
	}
	if ctxID == "" {
		lang := ""
		if req.Context != nil {
			lang = req.Context.Language
		}
		lang, err := language("context.language", lang)
		if err != nil {
			return err
		}
		c, err := call.Client.CreateContext(r.Context(), id, api.CreateContextRequest{Language: lang})
		if err != nil {
			return err
		}
		ctxID = c.ID
		defer func() { _ = call.Client.DeleteContext(context.WithoutCancel(r.Context()), id, ctxID) }()
	}
	start := time.Now()
	none := 0
	res, err := call.Client.RunCode(r.Context(), id, ctxID, api.RunCodeRequest{Code: req.Code, TimeoutSeconds: &none})
	if err != nil {
		return err
	}
	s := newEventStream(w)
	_ = s.send(event("init", ctxID))
	if res.Stdout != "" {
		_ = s.send(event("stdout", res.Stdout))
	}
	if res.Stderr != "" {
		_ = s.send(event("stderr", res.Stderr))
	}
	for _, out := range res.Outputs {
		ev := event("result", "")
		ev.Results = out
		_ = s.send(ev)
	}
	if len(res.Result) > 0 {
		ev := event("result", "")
		ev.Results = res.Result
		_ = s.send(ev)
	}
	if e := res.Error; e != nil {
		var tb []string
		if e.Traceback != "" {
			tb = strings.Split(strings.TrimRight(e.Traceback, "\n"), "\n")
		}
		_ = s.send(failure(e.Name, e.Value, tb...))
		return nil
	}
	_ = s.send(completion(start))
	return nil
}
