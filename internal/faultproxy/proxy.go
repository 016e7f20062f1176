package faultproxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Proxy chains the two layers in front of one HTTP upstream: clients connect
// to the TCP layer (toxiproxy), which forwards to the HTTP layer, which
// forwards to the upstream.
type Proxy struct {
	// HTTP is the per-request layer.
	HTTP *HTTP
	// TCP is the per-connection layer.
	TCP *TCP

	srv *http.Server
	ln  net.Listener
}

// New starts a Proxy named name in front of upstream (an http URL) on two free
// ports of 127.0.0.1, injecting nothing until Inject. Close stops it.
func New(name, upstream string, seed uint64, log *slog.Logger) (*Proxy, error) {
	h, err := NewHTTP(upstream, seed, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	p := &Proxy{HTTP: h, ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	p.TCP, err = NewTCP(name, ln.Addr().String())
	if err != nil {
		_ = p.srv.Close()
		return nil, err
	}
	return p, nil
}

// URL is the address clients use: http://host:port of the TCP layer.
func (p *Proxy) URL() string { return "http://" + p.TCP.Addr() }

// Inject starts injecting f at the HTTP layer and tcp at the TCP layer.
func (p *Proxy) Inject(f Faults, tcp TCPFaults) error {
	if err := errors.Join(f.Validate(), tcp.Validate()); err != nil {
		return err
	}
	if err := p.HTTP.Inject(f); err != nil {
		return err
	}
	return p.TCP.Inject(tcp)
}

// Heal stops injecting at both layers.
func (p *Proxy) Heal() {
	p.HTTP.Heal()
	p.TCP.Heal()
}

// Close stops both layers and closes their connections.
func (p *Proxy) Close() error {
	p.TCP.Close()
	err := p.srv.Close()
	p.HTTP.Close()
	return err
}
