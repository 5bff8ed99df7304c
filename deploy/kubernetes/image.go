// Package kubedeploy holds the Kubernetes manifests of the Hutch control
// plane (the YAML files beside it, applied with `kubectl apply -k`; its
// tests check them) and the root filesystem of its image, which
// scripts/build-image.sh builds. docs/kubernetes.md walks through a
// deployment.
package kubedeploy

import "github.com/hutchdev/hutch/internal/ocilayout"

// The image's user: the control plane runs unprivileged, since with the
// kube runtime it only talks to the API server, PostgreSQL and the
// sandboxes' agents. deployment.yaml runs as the same ids.
const (
	UID      = 65532
	UserName = "hutch"
)

// BinaryPath is where the image keeps the static hutch binary: the kube
// runtime's init container copies it from there into each sandbox pod
// (--kube-agent-image names this same image), so the path is part of the
// image's contract. CommandPath links to it for a shell's PATH.
const (
	BinaryPath  = "/hutch"
	CommandPath = "/usr/local/bin/hutch"
)

// ImageRef is the reference the manifests name (kustomization.yaml sets
// its tag).
const ImageRef = "hutch.local/hutch"

// ImageRootfs is the root filesystem of the control plane's image: the
// hutch binary (a CGO_ENABLED=0 build, as scripts/setup.sh makes), the
// CA certificates it verifies TLS peers with (PostgreSQL, webhooks,
// registries), a passwd and group naming the unprivileged user, and the
// directories the Deployment mounts over.
func ImageRootfs(hutch, caCerts []byte) []ocilayout.Entry {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		UserName + ":x:65532:65532:hutch:/var/lib/hutch:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
	group := "root:x:0:\n" + UserName + ":x:65532:\nnogroup:x:65534:\n"
	return []ocilayout.Entry{
		{Name: "tmp", Dir: true, Mode: 0o1777},
		{Name: "root", Dir: true, Mode: 0o700},
		{Name: "var/lib/hutch", Dir: true, Mode: 0o700, UID: UID, GID: UID},
		{Name: "etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		{Name: "etc/group", Mode: 0o644, Data: []byte(group)},
		{Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: caCerts},
		{Name: BinaryPath, Mode: 0o755, Data: hutch},
		{Name: CommandPath, Mode: 0o777, Link: BinaryPath},
	}
}

// ImageConfig is how the image's containers start: `hutch serve`. The
// image names no user: the sandboxes' install container (`/hutch kube
// install`) runs it as root to write onto a fresh claim, and the
// Deployment runs the control plane as UID (runAsUser, runAsNonRoot).
func ImageConfig() ocilayout.Config {
	return ocilayout.Config{
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"serve"},
		WorkingDir: "/",
		Labels:     map[string]string{"org.opencontainers.image.source": "https://github.com/hutchdev/hutch"},
	}
}
