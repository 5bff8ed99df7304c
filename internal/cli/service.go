package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ServiceOptions are what the systemd unit and the first config file
// name.
type ServiceOptions struct {
	Binary     string // absolute path of hutch
	ConfigFile string // /etc/hutch/config.yaml
	DataDir    string
	Listen     string
}

// ServiceUnit is the systemd unit of hutch serve.
//
// KillMode=process: a stop or restart ends hutch serve alone; the
// sandboxes (their init and agent, reparented when the server goes) keep
// running, and the next server re-attaches to them (recovery). The
// server's stdout, which carries the first admin key once, goes nowhere:
// the key is in <data-dir>/api-key and never in the journal; the log
// (stderr) goes to the journal. Restart=on-failure brings a crashed or
// killed server back; a clean stop (systemctl stop) stays stopped.
func ServiceUnit(o ServiceOptions) string {
	return fmt.Sprintf(`# Written by hutch install-service. Settings belong in %[2]s;
# see docs/operations.md.
[Unit]
Description=Hutch sandbox server
Documentation=https://github.com/hutchdev/hutch/blob/main/docs/operations.md
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=60
StartLimitBurst=10

[Service]
Type=simple
ExecStart=%[1]s serve --config %[2]s
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=45s
Delegate=yes
TasksMax=infinity
LimitNOFILE=1048576
StandardOutput=null
StandardError=journal
SyslogIdentifier=hutch

[Install]
WantedBy=multi-user.target
`, o.Binary, o.ConfigFile)
}

// ServiceConfig is the first config file: every setting is a flag of
// hutch serve, named the same.
func ServiceConfig(o ServiceOptions) string {
	return fmt.Sprintf(`# Settings of hutch serve, named like its flags (hutch serve -h lists them all).
# Flags and HUTCH_* variables override what is here. Reload the TLS certificate
# with systemctl reload hutch; restart for anything else (sandboxes keep running).
listen: %q
data-dir: %q
log-format: json
# TLS: your certificate (re-read when it changes), or a self-signed one whose
# fingerprint the log shows (journalctl -u hutch | grep fingerprint).
# tls-cert: /etc/hutch/tls/cert.pem
# tls-key: /etc/hutch/tls/key.pem
# tls-self-signed: true
# public-url: https://hutch.example.com
# proxy-domain: sandboxes.example.com
# Prometheus without a key on a private address (GET /metrics on the API
# listener always needs a platform admin key):
# metrics-listen: 127.0.0.1:9420
# Request rate limits (the platform admin changes them at run time with
# PUT /v1/rate-limits):
# rate-limit-key: 100
# rate-limit-key-burst: 1000
# rate-limit-org: 200
# rate-limit-org-burst: 2000
`, o.Listen, o.DataDir)
}

// systemdRunning reports whether systemd manages this machine.
func systemdRunning() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

func runInstallService(ctx context.Context, e *env, args []string) error {
	fset := e.flagSet("install-service")
	self, _ := os.Executable()
	o := ServiceOptions{}
	fset.StringVar(&o.Binary, "binary", self, "the hutch binary the unit runs")
	fset.StringVar(&o.ConfigFile, "config", "/etc/hutch/config.yaml", "config file (written when missing, never replaced)")
	fset.StringVar(&o.DataDir, "data-dir", "/var/lib/hutch", "data dir named in a new config file")
	fset.StringVar(&o.Listen, "listen", "127.0.0.1:7420", "listen address named in a new config file")
	unitPath := fset.String("unit", "/etc/systemd/system/hutch.service", "where the unit goes")
	printOnly := fset.Bool("print", false, "print the unit and a new config file; write nothing")
	noStart := fset.Bool("no-start", false, "write the files but do not enable or start the service")
	pos, _, err := e.parse(fset, "install-service", "", "Write the systemd unit of hutch serve and its config file, then enable and start it.", args)
	if err != nil {
		return err
	}
	if err := needArgs("install-service", pos, 0, 0, ""); err != nil {
		return err
	}
	if !filepath.IsAbs(o.Binary) || !filepath.IsAbs(o.ConfigFile) {
		return usagef("install-service", "--binary and --config must be absolute paths")
	}
	if *printOnly {
		fmt.Fprintf(e.stdout, "# %s\n%s\n# %s\n%s", *unitPath, ServiceUnit(o), o.ConfigFile, ServiceConfig(o))
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(o.ConfigFile), 0o755); err != nil {
		return err
	}
	switch _, err := os.Stat(o.ConfigFile); {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.WriteFile(o.ConfigFile, []byte(ServiceConfig(o)), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", o.ConfigFile)
	case err != nil:
		return err
	default:
		fmt.Fprintf(e.stdout, "kept %s\n", o.ConfigFile)
	}
	if err := os.MkdirAll(filepath.Dir(*unitPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*unitPath, []byte(ServiceUnit(o)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", *unitPath)
	if *noStart {
		return nil
	}
	if !systemdRunning() {
		fmt.Fprintln(e.stdout, "systemd does not run on this machine: the files are written; where it runs: systemctl daemon-reload && systemctl enable --now hutch")
		return nil
	}
	name := strings.TrimSuffix(filepath.Base(*unitPath), ".service")
	for _, cmd := range [][]string{{"daemon-reload"}, {"enable", "--now", name}} {
		out, err := exec.CommandContext(ctx, "systemctl", cmd...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("systemctl %s: %v: %s", strings.Join(cmd, " "), err, strings.TrimSpace(string(out)))
		}
	}
	fmt.Fprintf(e.stdout, "enabled and started %s: journalctl -u %s -f shows its log; the admin key is in %s\n", name, name, filepath.Join(o.DataDir, "api-key"))
	return nil
}
