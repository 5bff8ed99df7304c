package sandbox

import "sync"

// connections counts the requests in flight to each sandbox through its
// agent or its ports. A terminal, a followed log or a WebSocket can stay
// open for hours with little traffic and little CPU; while any is open
// the sandbox is in use, and auto-stop must not end it under its user.
// The count lives in memory: a server restart drops every connection
// anyway.
type connections struct {
	mu sync.Mutex
	n  map[string]int
}

// Hold records an open connection to sandbox id until release is called.
func (s *Service) Hold(id string) (release func()) {
	c := &s.conns
	c.mu.Lock()
	if c.n == nil {
		c.n = make(map[string]int)
	}
	c.n[id]++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.n[id]--; c.n[id] <= 0 {
				delete(c.n, id)
			}
			c.mu.Unlock()
		})
	}
}

// held reports whether sandbox id has a connection open.
func (s *Service) held(id string) bool {
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	return s.conns.n[id] > 0
}
