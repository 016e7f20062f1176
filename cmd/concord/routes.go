package main

import (
	"net/http"
	"strings"
)

// routeMux is serve's ServeMux, remembering the patterns registered on it so
// that the "listening" log line says which endpoints answer.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern (see http.ServeMux.Handle).
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.note(pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern (see http.ServeMux.HandleFunc).
func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.note(pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

// note records a pattern registered on the embedded ServeMux directly.
func (m *routeMux) note(pattern string) { m.patterns = append(m.patterns, pattern) }

// endpoints lists the patterns in the order they were registered.
func (m *routeMux) endpoints() string { return strings.Join(m.patterns, ", ") }
