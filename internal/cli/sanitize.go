package cli

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// clean makes text that came from the server (names, metadata, images,
// messages, events) safe to print on a terminal, where a sandbox's
// owner, an image's author or anyone who sets metadata could otherwise
// send escape sequences that move the cursor, rewrite earlier lines,
// retitle the window or set the clipboard (OSC 52), or reverse what
// follows. Tabs and newlines become spaces (every place it prints is one
// line or one cell); other control characters (C0, DEL, C1), bytes that
// are not UTF-8 and the bidirectional overrides are shown as Go escapes
// (\x1b, \u202e), visible and inert. The output of a command run with
// exec, logs or shell is the command's own and is passed through as a
// terminal would show it.
func clean(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t' || r == '\n':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f, isBidiControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isClean is the fast path: plain printable text needs no copy.
func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// isBidiControl reports the characters that reorder the text after them
// (Trojan Source, CVE-2021-42574).
func isBidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}
