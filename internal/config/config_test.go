package config

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadServeFlags(t *testing.T) {
	t.Setenv("HUTCH_LISTEN", "127.0.0.1:9999")
	c, err := LoadServe([]string{"--data-dir", "/tmp/x", "--oci-runtime", "runc"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.DataDir != "/tmp/x" || c.Runtime != "oci" || c.OCIRuntime != "runc" {
		t.Fatalf("config %+v", c)
	}
	c, err = LoadServe([]string{"--listen", "127.0.0.1:1"}, io.Discard)
	if err != nil || c.Listen != "127.0.0.1:1" {
		t.Fatalf("flag does not override env: %v %v", c.Listen, err)
	}
}

func TestLoadServeRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "nonsense"},
		{"--runtime", "docker"},
		{"--log-level", "loud"},
		{"--data-dir", ""},
		{"--stop-grace", "-1s"},
		{"extra"},
	} {
		if _, err := LoadServe(args, io.Discard); err == nil {
			t.Errorf("LoadServe(%q) accepted", strings.Join(args, " "))
		}
	}
}

func TestLayersFileThenEnvThenFlags(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/hutch.yaml"
	body := "listen: 127.0.0.1:1111\ndata-dir: /srv/hutch\ndefault-image: python\nstop-grace: 3s\noci-runtime: runc\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUTCH_DATA_DIR", "/from/env")
	c, err := LoadServe([]string{"--config", file, "--oci-runtime", "crun"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1111" || c.Sandbox.DefaultImage != "python" || c.Sandbox.StopGrace != 3*time.Second {
		t.Fatalf("file settings not applied: %+v", c)
	}
	if c.DataDir != "/from/env" {
		t.Fatalf("environment does not override the file: %s", c.DataDir)
	}
	if c.OCIRuntime != "crun" {
		t.Fatalf("flag does not override the file: %s", c.OCIRuntime)
	}
}

func TestConfigFileErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	for body, mention := range map[string]string{
		"listn: x\n":            "listn",
		"stop-grace: forever\n": "stop-grace",
		"- not a map\n":         "hutch.yaml",
	} {
		file := dir + "/hutch.yaml"
		os.WriteFile(file, []byte(body), 0o600)
		_, err := LoadServe([]string{"--config=" + file}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), mention) {
			t.Errorf("config %q: error %v does not mention %q", body, err, mention)
		}
	}
	if _, err := LoadServe([]string{"--config", dir + "/missing.yaml"}, io.Discard); err == nil {
		t.Error("a named config file that does not exist was ignored")
	}
}
