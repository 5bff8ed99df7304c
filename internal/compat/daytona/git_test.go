package daytona_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestGit drives the git routes against the host's git (the test agent
// runs on the host), with a bare repository as the remote.
func TestGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed on this host")
	}
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	e := newEnv(t)
	tb := e.toolbox(e.create(map[string]any{}).ID)
	dir := t.TempDir()
	remote := filepath.Join(dir, "remote.git")
	if out, err := exec.Command("git", "init", "--bare", "-b", "main", remote).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	work := filepath.Join(dir, "work")
	e.must(200, "POST", tb+"/git/clone", map[string]any{"url": remote, "path": work})

	var hist []map[string]any
	e.must(200, "GET", tb+"/git/history?path="+work, nil).decode(t, &hist)
	if len(hist) != 0 {
		t.Fatalf("history of an empty repository: %v", hist)
	}
	if err := os.WriteFile(filepath.Join(work, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var st struct {
		CurrentBranch string `json:"currentBranch"`
		FileStatus    []struct {
			Name     string `json:"name"`
			Staging  string `json:"staging"`
			Worktree string `json:"worktree"`
		} `json:"fileStatus"`
		Ahead           int  `json:"ahead"`
		BranchPublished bool `json:"branchPublished"`
	}
	e.must(200, "GET", tb+"/git/status?path="+work, nil).decode(t, &st)
	if len(st.FileStatus) != 1 || st.FileStatus[0].Name != "a.txt" || st.FileStatus[0].Staging != "Untracked" {
		t.Fatalf("status of a new file: %+v", st)
	}
	e.must(200, "POST", tb+"/git/add", map[string]any{"path": work, "files": []string{"."}})
	e.must(200, "GET", tb+"/git/status?path="+work, nil).decode(t, &st)
	if st.FileStatus[0].Staging != "Added" || st.FileStatus[0].Worktree != "Unmodified" {
		t.Fatalf("status after add: %+v", st)
	}
	c := e.must(200, "POST", tb+"/git/commit", map[string]any{"path": work, "message": "first", "author": "Ada", "email": "ada@example.com"}).object(t)
	hash, _ := c["hash"].(string)
	if len(hash) != 40 {
		t.Fatalf("commit: %v", c)
	}
	e.must(200, "GET", tb+"/git/history?path="+work, nil).decode(t, &hist)
	if len(hist) != 1 || hist[0]["hash"] != hash || hist[0]["author"] != "Ada" || hist[0]["email"] != "ada@example.com" || hist[0]["message"] != "first" {
		t.Fatalf("history: %v", hist)
	}
	e.must(200, "POST", tb+"/git/push", map[string]any{"path": work, "remote": "origin", "branch": "main", "set_upstream": true})
	e.must(200, "GET", tb+"/git/status?path="+work, nil).decode(t, &st)
	if st.CurrentBranch != "main" || !st.BranchPublished || st.Ahead != 0 || len(st.FileStatus) != 0 {
		t.Fatalf("status after push: %+v", st)
	}
	e.must(201, "POST", tb+"/git/branches", map[string]any{"path": work, "name": "feature"})
	var br struct {
		Branches []string `json:"branches"`
	}
	e.must(200, "GET", tb+"/git/branches?path="+work, nil).decode(t, &br)
	if !slices.Equal(br.Branches, []string{"feature", "main"}) {
		t.Fatalf("branches: %v", br.Branches)
	}
	e.must(200, "POST", tb+"/git/checkout", map[string]any{"path": work, "branch": "main"})
	e.must(204, "DELETE", tb+"/git/branches", map[string]any{"path": work, "name": "feature"})
	e.must(200, "POST", tb+"/git/pull", map[string]any{"path": work})
	// A second clone sees the pushed commit.
	other := filepath.Join(dir, "other")
	e.must(200, "POST", tb+"/git/clone", map[string]any{"url": remote, "path": other, "branch": "main", "depth": 1})
	if b, err := os.ReadFile(filepath.Join(other, "a.txt")); err != nil || string(b) != "a\n" {
		t.Fatalf("cloned file: %q %v", b, err)
	}
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/git/status?path=" + dir, nil, 400},
		{"GET", "/git/status", nil, 400},
		{"POST", "/git/commit", map[string]any{"path": work, "message": "m"}, 400},
		{"POST", "/git/checkout", map[string]any{"path": work, "branch": "--orphan"}, 400},
		{"POST", "/git/clone", map[string]any{"url": filepath.Join(dir, "nope.git"), "path": filepath.Join(dir, "x")}, 400},
		{"POST", "/git/init", map[string]any{"path": dir}, 501},
	} {
		r := e.request(c.method, tb+c.path, e.key, c.body)
		if r.status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
			continue
		}
		r.err(t)
	}
}
