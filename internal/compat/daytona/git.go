package daytona

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/internal/compat"
	"github.com/hutchdev/hutch/internal/errdefs"
)

// The toolbox's git routes run the sandbox's own git (the image must have
// it; without it they are 501). Credentials go to git through the
// environment and a credential helper, never into the repository's
// config or the command line; git never prompts.

func (f *face) gitRoutes(tool func(method, path string, h toolFunc)) {
	tool("POST", "/git/clone", gitClone)
	tool("GET", "/git/status", gitStatus)
	tool("POST", "/git/add", gitAdd)
	tool("POST", "/git/commit", gitCommit)
	tool("GET", "/git/branches", gitBranches)
	tool("POST", "/git/branches", gitCreateBranch)
	tool("DELETE", "/git/branches", gitDeleteBranch)
	tool("POST", "/git/checkout", gitCheckout)
	tool("GET", "/git/history", gitHistory)
	tool("POST", "/git/pull", gitPull)
	tool("POST", "/git/push", gitPush)
}

// credentialHelper answers git's "get" with the username and password
// the call put in its environment.
const credentialHelper = `!f() { test "$1" = get && printf 'username=%s\npassword=%s\n' "$HUTCH_GIT_USERNAME" "$HUTCH_GIT_PASSWORD"; }; f`

// gitCall is one git command: its arguments and, for a remote, the
// credentials to offer.
type gitCall struct {
	args               []string
	username, password string
}

// runGit runs git in the sandbox and returns its stdout. A failure is
// git's own message (400); no git in the image is 501.
func runGit(ctx context.Context, c *compat.AgentCall, g gitCall) (string, error) {
	env := map[string]string{"GIT_TERMINAL_PROMPT": "0"}
	args := []string{"-c", "credential.helper="}
	if g.username != "" || g.password != "" {
		env["HUTCH_GIT_USERNAME"], env["HUTCH_GIT_PASSWORD"] = g.username, g.password
		args = append(args, "-c", "credential.helper="+credentialHelper)
	}
	none := 0
	res, err := c.Client.Exec(ctx, c.SandboxID(), api.ExecRequest{
		Command:        append([]string{"sh", "-c", `command -v git >/dev/null 2>&1 || exit 127; exec git "$@"`, "git"}, append(args, g.args...)...),
		Env:            env,
		TimeoutSeconds: &none,
	})
	if err != nil {
		return "", err
	}
	switch res.ExitCode {
	case 0:
		return res.Stdout, nil
	case 127:
		return "", notSupported("git is not installed in this sandbox's image")
	}
	msg := strings.TrimSpace(res.Stderr)
	if msg == "" {
		msg = strings.TrimSpace(res.Stdout)
	}
	return "", &daemonError{status: http.StatusBadRequest, code: "GIT_COMMAND_FAILED",
		msg: "git: " + msg, class: errdefs.ErrInvalidArgument}
}

// repo is git -C path.
func repo(path string, args ...string) []string { return append([]string{"-C", path}, args...) }

// repoPath reads a required repository path from a query or body.
func repoPath(p string) (string, error) {
	if p == "" {
		return "", errdefs.InvalidField("path", "is required")
	}
	return p, nil
}

func noContent(w http.ResponseWriter) error {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func gitClone(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	var req struct {
		URL             string `json:"url"`
		Path            string `json:"path"`
		Branch          string `json:"branch"`
		CommitID        string `json:"commit_id"`
		Username        string `json:"username"`
		Password        string `json:"password"`
		InsecureSkipTLS bool   `json:"insecure_skip_tls"`
		Depth           int    `json:"depth"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	if req.URL == "" {
		return errdefs.InvalidField("url", "is required")
	}
	path, err := repoPath(req.Path)
	if err != nil {
		return err
	}
	args := []string{"clone"}
	if req.InsecureSkipTLS {
		args = []string{"-c", "http.sslVerify=false", "clone"}
	}
	if req.Branch != "" {
		args = append(args, "--branch", req.Branch)
	}
	if req.Depth < 0 {
		return errdefs.InvalidField("depth", "must not be negative")
	}
	if req.Depth > 0 {
		args = append(args, "--depth", strconv.Itoa(req.Depth))
	}
	args = append(args, "--", req.URL, path)
	if _, err := runGit(r.Context(), c, gitCall{args: args, username: req.Username, password: req.Password}); err != nil {
		return err
	}
	if req.CommitID != "" {
		if _, err := runGit(r.Context(), c, gitCall{args: repo(path, "checkout", "--detach", req.CommitID)}); err != nil {
			return err
		}
	}
	return noContent(w)
}

// gitStates are porcelain status letters in the toolbox's words.
var gitStates = map[byte]string{' ': "Unmodified", '?': "Untracked", 'M': "Modified", 'T': "Modified",
	'A': "Added", 'D': "Deleted", 'R': "Renamed", 'C': "Copied", 'U': "Updated but unmerged"}

type fileStatus struct {
	Name     string `json:"name"`
	Staging  string `json:"staging"`
	Worktree string `json:"worktree"`
	Extra    string `json:"extra"`
}

// gitStatus is git status --porcelain -b -z as the toolbox's GitStatus.
func gitStatus(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := repoPath(r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	out, err := runGit(r.Context(), c, gitCall{args: repo(path, "status", "--porcelain=v1", "-b", "-z")})
	if err != nil {
		return err
	}
	status := struct {
		CurrentBranch   string       `json:"currentBranch"`
		FileStatus      []fileStatus `json:"fileStatus"`
		Ahead           int          `json:"ahead"`
		Behind          int          `json:"behind"`
		BranchPublished bool         `json:"branchPublished"`
	}{FileStatus: []fileStatus{}}
	entries := strings.Split(out, "\x00")
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		if head, ok := strings.CutPrefix(e, "## "); ok {
			status.CurrentBranch, status.Ahead, status.Behind, status.BranchPublished = parseBranchHeader(head)
			continue
		}
		if len(e) < 4 || e[0] == '!' {
			continue
		}
		fs := fileStatus{Name: e[3:], Staging: gitStates[e[0]], Worktree: gitStates[e[1]]}
		if e[0] == 'R' || e[0] == 'C' {
			if i+1 < len(entries) {
				fs.Extra = entries[i+1] // the path it was renamed or copied from
				i++
			}
		}
		status.FileStatus = append(status.FileStatus, fs)
	}
	compat.WriteJSON(w, http.StatusOK, status)
	return nil
}

// parseBranchHeader reads "main...origin/main [ahead 1, behind 2]",
// "No commits yet on main" or "HEAD (no branch)".
func parseBranchHeader(h string) (branch string, ahead, behind int, published bool) {
	h, counts, _ := strings.Cut(h, " [")
	if b, ok := strings.CutPrefix(h, "No commits yet on "); ok {
		h = b
	}
	branch, _, published = strings.Cut(h, "...")
	for _, part := range strings.Split(strings.TrimSuffix(counts, "]"), ", ") {
		word, n, _ := strings.Cut(part, " ")
		v, _ := strconv.Atoi(n)
		switch word {
		case "ahead":
			ahead = v
		case "behind":
			behind = v
		}
	}
	return branch, ahead, behind, published
}

func gitAdd(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	var req struct {
		Path  string   `json:"path"`
		Files []string `json:"files"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	path, err := repoPath(req.Path)
	if err != nil {
		return err
	}
	if len(req.Files) == 0 {
		return errdefs.InvalidField("files", "give at least one file (. for all)")
	}
	if _, err := runGit(r.Context(), c, gitCall{args: repo(path, append([]string{"add", "--"}, req.Files...)...)}); err != nil {
		return err
	}
	return noContent(w)
}

func gitCommit(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	var req struct {
		Path       string `json:"path"`
		Message    string `json:"message"`
		Author     string `json:"author"`
		Email      string `json:"email"`
		AllowEmpty bool   `json:"allow_empty"`
	}
	if err := compat.Decode(w, r, &req); err != nil {
		return err
	}
	path, err := repoPath(req.Path)
	if err != nil {
		return err
	}
	switch {
	case req.Message == "":
		return errdefs.InvalidField("message", "is required")
	case req.Author == "":
		return errdefs.InvalidField("author", "is required")
	case req.Email == "":
		return errdefs.InvalidField("email", "is required")
	}
	args := []string{"-C", path, "-c", "user.name=" + req.Author, "-c", "user.email=" + req.Email, "commit", "-m", req.Message}
	if req.AllowEmpty {
		args = append(args, "--allow-empty")
	}
	if _, err := runGit(r.Context(), c, gitCall{args: args}); err != nil {
		return err
	}
	hash, err := runGit(r.Context(), c, gitCall{args: repo(path, "rev-parse", "HEAD")})
	if err != nil {
		return err
	}
	compat.WriteJSON(w, http.StatusOK, map[string]string{"hash": strings.TrimSpace(hash)})
	return nil
}

func gitBranches(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := repoPath(r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	out, err := runGit(r.Context(), c, gitCall{args: repo(path, "branch", "--format=%(refname:short)")})
	if err != nil {
		return err
	}
	branches := []string{}
	for _, b := range strings.Split(out, "\n") {
		if b = strings.TrimSpace(b); b != "" {
			branches = append(branches, b)
		}
	}
	compat.WriteJSON(w, http.StatusOK, map[string][]string{"branches": branches})
	return nil
}

// branchRequest is the body of the branch routes.
type branchRequest struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Branch string `json:"branch"`
}

func decodeBranch(w http.ResponseWriter, r *http.Request, field string) (path, name string, err error) {
	var req branchRequest
	if err := compat.Decode(w, r, &req); err != nil {
		return "", "", err
	}
	if path, err = repoPath(req.Path); err != nil {
		return "", "", err
	}
	name = req.Name
	if field == "branch" {
		name = req.Branch
	}
	if name == "" || strings.HasPrefix(name, "-") {
		return "", "", errdefs.InvalidField(field, "must be a branch name")
	}
	return path, name, nil
}

// gitCreateBranch creates a branch at HEAD and checks it out.
func gitCreateBranch(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, name, err := decodeBranch(w, r, "name")
	if err != nil {
		return err
	}
	if _, err := runGit(r.Context(), c, gitCall{args: repo(path, "checkout", "-b", name)}); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func gitDeleteBranch(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, name, err := decodeBranch(w, r, "name")
	if err != nil {
		return err
	}
	if _, err := runGit(r.Context(), c, gitCall{args: repo(path, "branch", "-D", name)}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func gitCheckout(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, branch, err := decodeBranch(w, r, "branch")
	if err != nil {
		return err
	}
	if _, err := runGit(r.Context(), c, gitCall{args: repo(path, "checkout", branch)}); err != nil {
		return err
	}
	return noContent(w)
}

// gitHistory lists the commits reachable from HEAD, newest first.
func gitHistory(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
	path, err := repoPath(r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	if _, err := runGit(r.Context(), c, gitCall{args: repo(path, "rev-parse", "--is-inside-work-tree")}); err != nil {
		return err
	}
	out := ""
	// A new repository has no HEAD yet, and no history.
	_, err = runGit(r.Context(), c, gitCall{args: repo(path, "rev-parse", "-q", "--verify", "HEAD")})
	switch {
	case err == nil:
		if out, err = runGit(r.Context(), c, gitCall{args: repo(path, "log", "--format=%H%x00%an%x00%ae%x00%aI%x00%B%x1e")}); err != nil {
			return err
		}
	case !errors.As(err, new(*daemonError)):
		return err
	}
	type commit struct {
		Hash      string `json:"hash"`
		Author    string `json:"author"`
		Email     string `json:"email"`
		Timestamp string `json:"timestamp"`
		Message   string `json:"message"`
	}
	commits := []commit{}
	for _, rec := range strings.Split(out, "\x1e") {
		f := strings.SplitN(strings.TrimLeft(rec, "\n"), "\x00", 5)
		if len(f) != 5 {
			continue
		}
		commits = append(commits, commit{Hash: f[0], Author: f[1], Email: f[2], Timestamp: f[3], Message: strings.TrimSpace(f[4])})
	}
	compat.WriteJSON(w, http.StatusOK, commits)
	return nil
}

// remoteRequest is the body of pull and push.
type remoteRequest struct {
	Path        string `json:"path"`
	Username    string `json:"username"`
	Password    string `json:"password"`
	Branch      string `json:"branch"`
	Remote      string `json:"remote"`
	SetUpstream bool   `json:"set_upstream"`
}

// remoteArgs are [remote [branch]] of pull and push.
func (q remoteRequest) remoteArgs() ([]string, error) {
	var out []string
	if q.Remote != "" || q.Branch != "" {
		remote := q.Remote
		if remote == "" {
			remote = "origin"
		}
		out = append(out, remote)
	}
	if q.Branch != "" {
		out = append(out, q.Branch)
	}
	for _, a := range out {
		if strings.HasPrefix(a, "-") {
			return nil, errdefs.InvalidField("remote", "must be a remote and branch name")
		}
	}
	return out, nil
}

func gitRemote(verb string) toolFunc {
	return func(w http.ResponseWriter, r *http.Request, c *compat.AgentCall) error {
		var req remoteRequest
		if err := compat.Decode(w, r, &req); err != nil {
			return err
		}
		path, err := repoPath(req.Path)
		if err != nil {
			return err
		}
		rest, err := req.remoteArgs()
		if err != nil {
			return err
		}
		args := repo(path, verb)
		if verb == "push" && req.SetUpstream {
			args = append(args, "--set-upstream")
		}
		if _, err := runGit(r.Context(), c, gitCall{args: append(args, rest...), username: req.Username, password: req.Password}); err != nil {
			return err
		}
		return noContent(w)
	}
}

var (
	gitPull = gitRemote("pull")
	gitPush = gitRemote("push")
)
