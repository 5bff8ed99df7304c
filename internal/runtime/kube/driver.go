package kube

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/keyed"
	"github.com/hutchdev/hutch/internal/runtime"
)

// Defaults of Config.
const (
	DefaultNamespace  = "hutch-sandboxes"
	DefaultAgentImage = "ghcr.io/hutchdev/hutch-agent:latest"
	DefaultAgentPort  = 7311
	// DefaultControlPort is boot's freeze control (pause and resume).
	DefaultControlPort = 7312
	defaultStopGrace   = 10 * time.Second
	// readyTimeout bounds a create's or start's wait for the pod's agent
	// when the caller's context has no deadline.
	readyTimeout = 3 * time.Minute
)

// Config says where and how the driver runs sandboxes.
type Config struct {
	Client       kubernetes.Interface
	Namespace    string // DefaultNamespace when empty
	StorageClass string // the cluster's default class when empty
	// AgentImage holds the static hutch binary at /hutch (DefaultAgentImage
	// when empty); PullPolicy applies to it and to the sandboxes' images
	// (IfNotPresent when empty).
	AgentImage string
	PullPolicy string
	// Images maps the image names sandboxes ask for (base, python and
	// node: the default image, and what the compat APIs' templates
	// become) to references the nodes can pull; a name not in it is used
	// as a reference as it is.
	Images    map[string]string
	AgentPort int // DefaultAgentPort when zero
	// ControlPort is where boot, the pod's PID 1, freezes and thaws the
	// sandbox (DefaultControlPort when zero).
	ControlPort int
	// NodeCgroups is where the node's cgroup hierarchies are mounted when
	// the driver runs on the sandboxes' node and sees them (a test, or a
	// node-local deployment): Stats read the pod's container there. Empty
	// elsewhere: the driver asks the pod's boot for Stats. Pause does not
	// need it (the pod's boot freezes).
	NodeCgroups string
	// KubeletCgroupRoot is the kubelet's --cgroup-root ("/" when empty),
	// below which the driver looks for the pods' cgroups.
	KubeletCgroupRoot string
	// Overcommit divides the pods' CPU and memory limits into their
	// requests (what the scheduler reserves); below 1 counts as 1.
	Overcommit float64
	// ProtectedCIDRs are ranges no sandbox reaches, whatever its policy
	// says (the cluster's pod and service ranges, the nodes' addresses),
	// beside link-local (the cloud metadata service), which is always
	// protected. An allowCIDRs entry inside one is refused.
	ProtectedCIDRs []string
	StopGrace      time.Duration // the pod's termination grace; 10 s when zero
	// Dial reaches the pods' addresses (a net.Dialer when nil).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Driver is the Kubernetes runtime. It keeps nothing of its own: every
// replica of the control plane finds the sandboxes in the API server.
type Driver struct {
	cfg   Config
	locks keyed.Mutex
	// podNames maps a sandbox's key to its pod's name where that is not
	// the key's (a pod taken from a warm pool): a hint, checked on use.
	podNames sync.Map
}

var _ runtime.Runtime = (*Driver)(nil)
var _ runtime.AgentDialer = (*Driver)(nil)
var _ runtime.Watcher = (*Driver)(nil)
var _ runtime.Pooler = (*Driver)(nil)

// New returns a driver on cfg.
func New(cfg Config) (*Driver, error) {
	if cfg.Client == nil {
		return nil, errors.New("kube: no client")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.AgentImage == "" {
		cfg.AgentImage = DefaultAgentImage
	}
	if cfg.ControlPort == 0 {
		cfg.ControlPort = DefaultControlPort
	}
	if cfg.AgentPort == 0 {
		cfg.AgentPort = DefaultAgentPort
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = defaultStopGrace
	}
	protected, err := protectedRanges(cfg.ProtectedCIDRs)
	if err != nil {
		return nil, err
	}
	cfg.ProtectedCIDRs = protected
	if cfg.Overcommit < 1 {
		cfg.Overcommit = 1
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	return &Driver{cfg: cfg}, nil
}

// imageOf is the reference of the image a sandbox asks for by name.
func (d *Driver) imageOf(name string) string {
	if ref, ok := d.cfg.Images[name]; ok {
		return ref
	}
	return name
}

// The client's request rate: sustained, and in a burst.
const (
	clientQPS   = 100
	clientBurst = 200
)

// Client builds a client from a kubeconfig file, or from the pod's
// service account when kubeconfig is empty (in-cluster).
func Client(kubeconfig string) (kubernetes.Interface, *rest.Config, error) {
	var rc *rest.Config
	var err error
	if kubeconfig == "" {
		rc, err = rest.InClusterConfig()
	} else {
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	// client-go's own default (5 requests a second, bursts of 10) is a
	// tool's: a take from a warm pool makes about twenty requests, and
	// under it took 4.3 s instead of 70 ms. The API server's priority and
	// fairness protects the cluster from a busy control plane.
	rc.QPS, rc.Burst = clientQPS, clientBurst
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	return c, rc, nil
}

// Name identifies the driver.
func (d *Driver) Name() string { return "kube" }

// Capabilities: the agent, the watch, pause (through the pod's boot,
// wherever the driver runs), ports (through the agent), archive (a
// files pod on the claim) and warm pools of held pods, whose CPU and
// memory are the pod's from its creation (PoolLimits: a pod's QoS class
// cannot change, pool.go). Not Network:
// a pod always has its interface, and its reach is the cluster's network
// plugin's to enforce (doc.go).
func (d *Driver) Capabilities() runtime.Capabilities {
	return runtime.Capabilities{Agent: true, Watch: true, Pause: true, Ports: true, Archive: true, Pool: true, PoolLimits: true}
}

// Labels and annotations of every object the driver makes.
const (
	labelManaged = "app.kubernetes.io/managed-by"
	labelSandbox = "hutch.dev/sandbox"
	annotationID = "hutch.dev/id"
	managedBy    = "hutch"
	// annotationUIDBase, on a claim (and on the network policy, which
	// outlives a discarded claim), is the host uid the claim's files'
	// root is owned by: a taken prepared sandbox keeps its pool key's.
	annotationUIDBase = "hutch.dev/uid-base"
)

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

var plainKey = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$`)

// key is sandbox id as a DNS label: the id itself when it is one (short
// enough for "hutch-" before it), else its lower-cased, cleaned prefix
// and a hash of the whole id, so that two ids never share one.
func key(id string) (string, error) {
	if !validID.MatchString(id) {
		return "", errdefs.InvalidField("id", "%q is not a valid sandbox id", id)
	}
	if plainKey.MatchString(id) {
		return id, nil
	}
	sum := sha256.Sum256([]byte(id))
	clean := strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, id), "-")
	if len(clean) > 36 {
		clean = strings.TrimRight(clean[:36], "-")
	}
	if clean == "" {
		return "h" + hex.EncodeToString(sum[:6]), nil
	}
	return clean + "-" + hex.EncodeToString(sum[:6]), nil
}

// objectName names the pod, the claim and the network policy a key's
// sandbox is made with (a taken prepared sandbox keeps its pod's and
// claim's: objects.go).
func objectName(k string) string { return "hutch-" + k }

func labels(k string) map[string]string {
	return map[string]string{labelManaged: managedBy, labelSandbox: k}
}

// newToken is a fresh agent token for one pod.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
