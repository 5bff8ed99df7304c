package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/hutchdev/hutch/api"
)

// dashboard is one headless Chromium on the dashboard of a server, with
// the directory its downloads land in and the one its screenshots go to.
type dashboard struct {
	t         *testing.T
	ctx       context.Context
	url       string
	downloads string
	shots     string
}

// openDashboard starts Chromium (skipping the test where it is not
// installed) on the server's page. Screenshots go to $HUTCH_SCREENSHOTS
// when set (scripts/screenshot-dashboard.sh keeps them), else to a
// temporary directory.
func openDashboard(t *testing.T, s *server) *dashboard {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (run scripts/setup.sh)")
	}
	shots := os.Getenv("HUTCH_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860),
		chromedp.Env("TMPDIR="+t.TempDir())) // its singleton socket dir, left behind otherwise
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	// The whole browser test is bounded: CI runs it on two cores.
	ctx, cancelTime := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	d := &dashboard{t: t, ctx: ctx, url: s.url, downloads: t.TempDir(), shots: shots}
	d.do("start Chromium", chromedp.Navigate("about:blank"))
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: d.downloads}); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshots: %s", shots)
	return d
}

// do runs steps or fails the test, saying what it was doing.
func (d *dashboard) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, steps...); err != nil {
		d.shot("failed")
		d.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns a JavaScript expression's value as text.
func (d *dashboard) eval(expr string) string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		d.t.Fatalf("%s: %v", expr, err)
	}
	return fmt.Sprint(v)
}

// wait polls a JavaScript condition until it holds, for at most a minute.
func (d *dashboard) wait(what, cond string) {
	d.t.Helper()
	if _, err := chromedp.Run(d.ctx, chromedp.Poll[any](cond, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(time.Minute))); err != nil {
		d.shot("failed")
		d.t.Fatalf("waiting for %s (%s): %v; the page says: %s", what, cond, err, d.eval(`document.body.innerText.slice(0, 2000)`))
	}
}

// click clicks the element css selects, once it is visible.
func (d *dashboard) click(what, css string) {
	d.t.Helper()
	d.do("click "+what, chromedp.WaitVisible(chromedp.CSS(css)), chromedp.Click(chromedp.CSS(css)))
}

// shot saves a screenshot of the whole page as name.png, without the
// toasts of earlier actions unless it is the picture of a failure.
func (d *dashboard) shot(name string) {
	if name != "failed" {
		_, _ = chromedp.Run(d.ctx, chromedp.Evaluate[any](`document.querySelectorAll(".toast").forEach((t) => t.remove())`))
	}
	buf, err := chromedp.Run(d.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(d.shots, name+".png"), buf, 0o644)
	}
	if err != nil {
		d.t.Logf("screenshot %s: %v", name, err)
	}
}

// setValue sets an input's value as a script would; chromedp's Clear
// only resets the value attribute, which an edited input no longer shows.
func (d *dashboard) setValue(css, value string) {
	d.t.Helper()
	sel, _ := json.Marshal(css)
	v, _ := json.Marshal(value)
	d.eval(fmt.Sprintf(`document.querySelector(%s).value = %s`, sel, v))
}

// typeLine types text and Enter into the element css selects as a
// terminal sees typing: the text as one input (as a paste or an IME
// gives it) and Enter as a key. chromedp's SendKeys sends each key twice
// over (keyDown, then char), which xterm.js reads as two keystrokes.
func (d *dashboard) typeLine(css, text string) {
	d.t.Helper()
	d.do("focus "+css, chromedp.Focus(chromedp.CSS(css)))
	enter := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
	_, err := chromedp.Call(d.ctx, input.InsertText, input.InsertTextParams{Text: text})
	if err == nil {
		_, err = chromedp.Call(d.ctx, input.DispatchKeyEvent, enter)
	}
	if err == nil {
		enter.Type = input.DispatchKeyEventTypeKeyUp
		_, err = chromedp.Call(d.ctx, input.DispatchKeyEvent, enter)
	}
	if err != nil {
		d.t.Fatalf("type %q: %v", text, err)
	}
}

// colorScheme makes the page see prefers-color-scheme as scheme ("" is
// the system's).
func (d *dashboard) colorScheme(scheme string) {
	d.t.Helper()
	var f []*emulation.MediaFeature
	if scheme != "" {
		f = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if _, err := chromedp.Call(d.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: f}); err != nil {
		d.t.Fatal(err)
	}
}

// same reports whether the page is still the document the test marked:
// no reload happened since.
func (d *dashboard) same() bool {
	return d.eval(`String(window.__hutchTestMark === true)`) == "true"
}

// TestDashboard drives the web dashboard in a real headless Chromium
// against a real server and real sandboxes: a wrong key is refused in
// words, a right one signs in; a sandbox another client makes appears in
// the list; the create dialog shows the API's refusal of a bad name, and
// the sandbox it then makes reaches running in the list without a reload
// (the event stream); it is paused and resumed; `echo hi` typed in its terminal prints hi; a file
// uploaded through the file browser downloads back the same; deleting it
// takes it out of the list. Screenshots of the main pages are written on
// the way.
func TestDashboard(t *testing.T) {
	// A webhook whose receiver refuses its first request: the Webhooks
	// page lists that 503 for retry, then deliveries that got through.
	var (
		mu       sync.Mutex
		received int
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if received++; received == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(recv.Close)
	s := startServer(t, "", "--egress-allow", "127.0.0.1/32")
	registerWebhook(t, s, recv.URL)
	d := openDashboard(t, s)

	// Sign-in: a wrong key first.
	d.do("open the dashboard", chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(chromedp.CSS("#signin-key")))
	d.do("type a wrong key", chromedp.SendKeys(chromedp.CSS("#signin-key"), "hk_not-a-key"))
	d.click("sign in", "form.signin button[type=submit]")
	d.wait("the sign-in error", `!document.querySelector("#signin-error").hidden`)
	msg := d.eval(`document.querySelector("#signin-error").textContent`)
	if !strings.Contains(msg, "That API key was refused") || !strings.Contains(msg, "UNAUTHENTICATED") {
		t.Errorf("a wrong key says %q, want the refusal and the API's code", msg)
	}
	if got := d.eval(`String(sessionStorage.length)`); got != "0" {
		t.Errorf("a refused key was kept: sessionStorage has %s items", got)
	}
	d.shot("signin-refused")
	d.setValue("#signin-key", "")
	d.do("type the key", chromedp.SendKeys(chromedp.CSS("#signin-key"), s.key))
	d.click("sign in", "form.signin button[type=submit]")
	d.wait("the sandboxes page", `document.querySelector("#list-status")?.textContent.includes("sandbox")`)
	if strings.Contains(d.eval(`location.href`), s.key) {
		t.Fatal("the API key is in the page's URL")
	}
	d.wait("the live event stream", `document.querySelector(".live")?.classList.contains("live") && document.querySelector(".live").textContent === "live"`)
	d.eval(`window.__hutchTestMark = true`)

	// A sandbox made by another client shows up by itself.
	other, err := s.c.CreateSandbox(context.Background(), api.CreateSandboxRequest{Name: "made-by-the-api", Metadata: map[string]string{"team": "ml"}})
	if err != nil {
		t.Fatal(err)
	}
	tracked = append(tracked, other.ID)
	d.wait("the sandbox the API made", `document.querySelector('tr[data-name="made-by-the-api"]')?.dataset.state === "running"`)

	// Create through the dialog; the list shows it running without a reload.
	d.click("New sandbox", "#new-sandbox")
	// A name the API refuses: the dialog stays, with the API's words.
	d.do("type a bad name", chromedp.WaitVisible(chromedp.CSS("dialog #create-name")),
		chromedp.SendKeys(chromedp.CSS("#create-name"), "no spaces allowed"))
	d.click("Create", "dialog button[type=submit]")
	d.wait("the API's refusal in the dialog", `!document.querySelector("dialog .form-error").hidden`)
	if msg := d.eval(`document.querySelector("dialog .form-error").textContent`); !strings.Contains(msg, "INVALID_ARGUMENT") || !strings.Contains(msg, "name") {
		t.Errorf("a refused create says %q, want the API's code and the field", msg)
	}
	d.setValue("#create-name", "")
	d.do("fill the create dialog", chromedp.SendKeys(chromedp.CSS("#create-name"), "dash-e2e"),
		chromedp.SendKeys(chromedp.CSS("#create-metadata"), "suite=dashboard"),
		chromedp.SendKeys(chromedp.CSS("#create-memory"), "512"))
	d.shot("create-dialog")
	d.click("Create", "dialog button[type=submit]")
	d.wait("the dialog to close", `!document.querySelector("dialog")`)
	row := `document.querySelector('tr[data-name="dash-e2e"]')`
	d.wait("the new sandbox in the list", row)
	id := d.eval(row + `.dataset.id`)
	tracked = append(tracked, id)
	d.wait("the new sandbox to run", row+`?.dataset.state === "running"`)
	if !d.same() {
		t.Fatal("the page reloaded to show the new sandbox")
	}
	d.shot("sandboxes")

	// Pause and resume from the list.
	d.click("Pause", fmt.Sprintf(`button[data-action=pause][data-sandbox=%q]`, id))
	d.wait("paused", row+`?.dataset.state === "paused"`)
	d.click("Resume", fmt.Sprintf(`button[data-action=resume][data-sandbox=%q]`, id))
	d.wait("running again", row+`?.dataset.state === "running"`)
	if got, err := s.c.GetSandbox(context.Background(), id); err != nil || got.State != "running" {
		t.Fatalf("after resume the API says %v, %v", got, err)
	}

	// The sandbox's page: details and resource use, then its terminal.
	d.click("the sandbox", fmt.Sprintf(`a[href="#/sandboxes/%s"]`, id))
	d.wait("the sandbox page", `document.querySelector("#sandbox-state")?.dataset.state === "running"`)
	// Two readings make a CPU share (the runtime reports cumulative time).
	d.wait("two resource readings", `/[0-9.]+% CPU/.test(document.querySelector("#stats-now")?.textContent ?? "")`)
	d.shot("sandbox")
	d.click("the Terminal tab", "#tab-terminal")
	d.wait("the terminal to connect", `document.querySelector("#terminal-status")?.textContent === "connected"`)
	d.wait("the shell's prompt", `document.querySelector("#terminal .xterm-rows")?.textContent.includes("#")`)
	d.typeLine("#terminal .xterm-helper-textarea", "echo hi")
	d.wait("hi in the terminal", `[...document.querySelectorAll("#terminal .xterm-rows > div")].some((r) => r.textContent.trim() === "hi")`)
	d.shot("terminal")

	// Files: upload into /tmp, then download it back.
	local := filepath.Join(t.TempDir(), "hello.txt")
	content := []byte("hello from the dashboard test\n")
	if err := os.WriteFile(local, content, 0o644); err != nil {
		t.Fatal(err)
	}
	d.click("the Files tab", "#tab-files")
	d.do("see the file browser", chromedp.WaitVisible(chromedp.CSS("#files-path")))
	d.setValue("#files-path", "/tmp")
	d.click("Go", `#panel-files form button[type=submit]`)
	d.wait("the listing of /tmp", `document.querySelector("#files-status")?.textContent.includes("in /tmp")`)
	d.do("upload a file", chromedp.SetUploadFiles(chromedp.CSS("#files-upload"), []string{local}))
	d.wait("the uploaded file in the listing", `document.querySelector('#files-list tr[data-file="hello.txt"]')`)
	d.shot("files")
	d.click("Download", `button[data-download="hello.txt"]`)
	saved := filepath.Join(d.downloads, "hello.txt")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(saved)
		if err == nil && bytes.Equal(b, content) {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(d.downloads)
			t.Fatalf("the download never arrived whole: %q, %v (downloads: %v)", b, err, entries)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Back to the list; delete it there and see it leave.
	d.click("Sandboxes", `a[data-nav="sandboxes"]`)
	d.wait("the row", row)
	d.click("Delete", fmt.Sprintf(`button[data-action=delete][data-sandbox=%q]`, id))
	d.shot("delete-confirm")
	d.click("confirm the delete", "dialog button[type=submit]")
	d.wait("the sandbox to leave the list", `!`+row)
	if !d.same() {
		t.Fatal("the page reloaded during the test")
	}
	tracked = slices.DeleteFunc(tracked, func(x string) bool { return x == id })
	waitGone(t, id)

	// The admin pages, for the screenshots; each must have drawn its list.
	for _, p := range []struct{ hash, ready string }{
		{"images", `document.querySelector('#image-list tr[data-ref="base:latest"]')`},
		{"keys", `document.querySelector("#key-list tbody tr")`},
		{"webhooks", `document.querySelector("#webhook-list") && !document.querySelector("#main").textContent.includes("Could not") &&
			document.querySelector('#webhook-deliveries tr[data-outcome="retrying"]')?.textContent.includes("503") &&
			document.querySelector('#webhook-deliveries tr[data-outcome="delivered"]')?.textContent.includes("200") &&
			document.querySelector('#webhook-list tr[data-webhook] .badge')?.textContent === "delivered"`},
		{"organization", `document.querySelector("#setting-defaultTimeoutSeconds") && document.querySelector("#quotas table")`},
	} {
		d.do("open "+p.hash, chromedp.Navigate(s.url+"/#/"+p.hash))
		d.wait("the "+p.hash+" page", p.ready)
		d.shot(p.hash)
	}

	// A new key's secret is shown once.
	d.do("open keys", chromedp.Navigate(s.url+"/#/keys"))
	d.do("name a key", chromedp.WaitVisible(chromedp.CSS("#key-name")), chromedp.SendKeys(chromedp.CSS("#key-name"), "ci"))
	d.click("Create key", `#main form.card button[type=submit]`)
	d.wait("the new key's secret", `document.querySelector("#key-secret code.secret")?.textContent.startsWith("hk_")`)
	d.shot("key-created")

	// The list on a phone, in the dark: the sandbox the API made is left.
	d.do("a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	d.colorScheme("dark")
	d.do("open the list", chromedp.Navigate(s.url+"/#/sandboxes"))
	d.wait("the list", `document.querySelector('tr[data-name="made-by-the-api"]')`)
	d.shot("sandboxes-phone-dark")
}
