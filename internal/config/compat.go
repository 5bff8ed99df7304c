package config

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Compat holds the settings of the vendor-compatible APIs.
type Compat struct {
	// PublicURL is the scheme and host that URLs handed out (agent hosts,
	// endpoints, signed links) point at, for a server behind a reverse
	// proxy; empty follows each request.
	PublicURL string
	// Listen serves one vendor's API at the root of a listener of its
	// own (vendor name -> address), for clients that cannot take a path
	// prefix; every vendor is also served under /compat/<vendor>.
	Listen map[string]string
}

// Vendors are the compatible APIs, as named in their flags.
var Vendors = []string{"hopx", "opensandbox", "daytona", "e2b"}

func compatFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Compat.PublicURL, "public-url", c.Compat.PublicURL,
		"scheme and host handed-out URLs point at, e.g. https://hutch.example.com (empty: the request's own)")
	c.Compat.Listen = map[string]string{}
	for _, v := range Vendors {
		v := v
		fs.Func("compat-"+v+"-listen", "also serve the "+v+" API at the root of this address (it is always under /compat/"+v+")",
			func(s string) error { c.Compat.Listen[v] = s; return nil })
	}
}

func (c Compat) validate() error {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("--public-url %q: must be a scheme and host such as https://hutch.example.com", c.PublicURL)
		}
	}
	for v, addr := range c.Listen {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("--compat-%s-listen %q: %w", v, addr, err)
		}
	}
	return nil
}

// PublicBase is PublicURL without a trailing slash.
func (c Compat) PublicBase() string { return strings.TrimSuffix(c.PublicURL, "/") }
