package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/hutchdev/hutch/api"
)

// printJSON writes v as the API would: the same field names, so scripts
// can rely on the API reference for --json output.
func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(buf.Bytes()))
	return err
}

// escapeJSON writes the C1 controls and bidirectional overrides that
// encoding/json leaves raw as \u escapes (it already escapes C0, DEL is
// inert), so that JSON printed on a terminal is as inert as a table. They
// can only stand inside strings, where the escape means the same.
func escapeJSON(b []byte) []byte {
	if isClean(string(b)) {
		return b
	}
	var out bytes.Buffer
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r >= 0x80 && r <= 0x9f || isBidiControl(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
		} else {
			out.Write(b[:size])
		}
		b = b[size:]
	}
	return out.Bytes()
}

// table writes aligned columns; call flush when done.
func table(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(header) > 0 {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	return tw
}

func row(tw *tabwriter.Writer, cols ...string) {
	for i, c := range cols {
		cols[i] = clean(c)
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
}

// age renders how long ago t was in the compact form of ls tables.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// bytesHuman renders a byte count in binary units.
func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func timeOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printSandbox writes one sandbox as key/value lines, for get.
func printSandbox(w io.Writer, sb *api.Sandbox) error {
	tw := table(w)
	kv := func(k, v string) { row(tw, k+":", v) }
	kv("id", sb.ID)
	kv("name", sb.Name)
	state := sb.State
	if sb.DesiredState != "" && sb.DesiredState != sb.State {
		state += " (-> " + sb.DesiredState + ")"
	}
	kv("state", state)
	if sb.StateReason != "" {
		kv("reason", sb.StateReason)
	}
	kv("image", orDash(sb.Image))
	if sb.Template != "" {
		kv("template", sb.Template)
	}
	if len(sb.Entrypoint) > 0 {
		kv("entrypoint", strings.Join(sb.Entrypoint, " "))
	}
	kv("organization", sb.OrganizationID)
	r := sb.Resources
	kv("resources", fmt.Sprintf("cpu %s, memory %d MB, disk %d MB, pids %d",
		strconv.FormatFloat(r.CPU, 'f', -1, 64), r.MemoryMB, r.DiskMB, r.Pids))
	net := "internet"
	if !sb.Network.Internet {
		net = "no internet"
	}
	if len(sb.Network.AllowCIDRs) > 0 {
		net += ", allow " + strings.Join(sb.Network.AllowCIDRs, " ")
	}
	kv("network", net)
	timeout := "none"
	if sb.TimeoutSeconds != nil {
		timeout = (time.Duration(*sb.TimeoutSeconds) * time.Second).String()
	}
	kv("timeout", timeout)
	kv("expires", timeOrDash(sb.ExpiresAt))
	kv("auto-stop", minutes(sb.AutoStopMinutes, "off"))
	kv("auto-pause", minutes(sb.AutoPauseMinutes, "off"))
	kv("auto-archive", minutes(sb.AutoArchiveMinutes, "off"))
	kv("auto-delete", autoDelete(sb.AutoDeleteMinutes))
	kv("created", timeOrDash(&sb.CreatedAt))
	kv("started", timeOrDash(sb.StartedAt))
	kv("last activity", timeOrDash(&sb.LastActivityAt))
	for _, k := range sortedKeys(sb.Metadata) {
		kv("metadata."+k, sb.Metadata[k])
	}
	return tw.Flush()
}

func minutes(n int, zero string) string {
	if n == 0 {
		return zero
	}
	return (time.Duration(n) * time.Minute).String()
}

func autoDelete(n int) string {
	switch {
	case n < 0:
		return "never"
	case n == 0:
		return "on stop"
	}
	return minutes(n, "") + " after stop"
}
