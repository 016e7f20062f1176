package server

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what clients can hold of an HTTP server: how long a request may
// take to arrive and its answer to leave, how long a kept-alive connection may
// sit idle, how large its headers may be, and how many connections are open at
// once. Every Concord HTTP server (serve, sandbox, demo) is built with them, so
// that idle or trickling connections are closed and cannot starve /healthz, the
// webhooks or the process's file descriptors.
type Limits struct {
	// ReadHeaderTimeout bounds the arrival of a request's headers, counted from
	// the connection's start or the end of the previous request: a connection
	// that sends nothing, or trickles its headers, is closed after it.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the arrival of a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds the writing of a response, counted from the end of the
	// request's headers.
	WriteTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header block; larger ones are answered
	// 431 Request Header Fields Too Large.
	MaxHeaderBytes int
	// MaxConns is the most connections accepted at once; more wait in the
	// kernel's backlog until one closes. Listen lowers it to half the process's
	// open-file limit when that is smaller.
	MaxConns int
}

// DefaultLimits returns the limits of Concord's servers: 5 s for headers, 30 s
// for a whole request and for its response, 60 s idle, 64 KiB of headers and
// 512 connections at once.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxConns:          512,
	}
}

// NewHTTPServer returns a server for h with the timeouts and header limit of l.
// Serve it on a listener from Listen, which applies l's connection cap. Zero
// fields of l take DefaultLimits' values.
func NewHTTPServer(h http.Handler, l Limits) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Listen listens on the TCP address addr and accepts at most l.MaxConns
// connections at once (capped at half the open-file limit). Zero fields of l
// take DefaultLimits' values.
func Listen(addr string, l Limits) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return LimitListener(ln, l), nil
}

// LimitListener wraps ln so that it accepts at most l.MaxConns connections at
// once (capped at half the open-file limit).
func LimitListener(ln net.Listener, l Limits) net.Listener {
	return netutil.LimitListener(ln, l.withDefaults().maxConns())
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	return l
}

// maxConns is MaxConns, lowered to half the soft open-file limit so that the
// store, the systems and the logs keep descriptors while the server is full.
func (l Limits) maxConns() int {
	n := l.MaxConns
	if lim := openFileLimit(); lim > 0 && lim/2 < uint64(n) {
		n = max(int(lim/2), 1)
	}
	return n
}
