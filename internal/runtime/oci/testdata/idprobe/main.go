// Command idprobe prints the ids and effective capabilities it runs with,
// for the tests of what an image's setuid and capability files give in a
// sandbox (the test image holds setuid and file-capability copies of it).
// With arguments it writes the first to the file named by the second, to
// show whether those ids may write there; "as UID PROG ARGS..." runs PROG
// with uid and gid UID (busybox's setpriv has no --reuid).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) > 3 && os.Args[1] == "as" {
		id, err := strconv.Atoi(os.Args[2])
		if err == nil {
			err = syscall.Setgroups(nil)
		}
		if err == nil {
			err = syscall.Setresgid(id, id, id)
		}
		if err == nil {
			err = syscall.Setresuid(id, id, id)
		}
		if err == nil {
			err = syscall.Exec(os.Args[3], os.Args[3:], os.Environ())
		}
		fmt.Println("as:", err)
		os.Exit(1)
	}
	capEff := "?"
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
				capEff = strings.TrimSpace(v)
			}
		}
	}
	fmt.Printf("uid=%d euid=%d capeff=%s\n", os.Getuid(), os.Geteuid(), capEff)
	if len(os.Args) == 3 {
		if err := os.WriteFile(os.Args[2], []byte(os.Args[1]), 0o644); err != nil {
			fmt.Println("write:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", os.Args[2])
	}
}
