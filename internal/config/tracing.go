package config

import (
	"net/url"
	"regexp"
	"strings"
)

// Tracing configures OpenTelemetry tracing: spans of polls and batches sent to
// an OTLP/HTTP receiver (an OpenTelemetry collector, Jaeger, Grafana Tempo).
// It is off unless an endpoint is known.
type Tracing struct {
	// Endpoint is the URL spans are posted to: an OTLP/HTTP receiver's
	// traces path (http://collector:4318/v1/traces). Empty: tracing is off.
	Endpoint string
	// EndpointFrom says where Endpoint came from, for the start-up log:
	// "tracing.otlp_endpoint" or the environment variable's name.
	EndpointFrom string
	// Headers are sent with every export (an API key of a hosted backend),
	// with secret references resolved. Never log their values.
	Headers map[string]string
	// SampleRatio is the share of traces kept, in [0, 1].
	SampleRatio float64
	// ServiceName is the service.name of the spans' resource.
	ServiceName string
}

// Enabled reports whether spans are exported.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

// Tracing defaults and the environment variables the section falls back to.
const (
	DefaultServiceName = "concord"
	DefaultSampleRatio = 1.0
	// EnvOTLPEndpoint is the OpenTelemetry base URL of an OTLP receiver; the
	// traces path /v1/traces is appended. Used when the file sets no
	// tracing.otlp_endpoint.
	EnvOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"
	// EnvOTLPTracesEndpoint is the full traces URL; it wins over
	// EnvOTLPEndpoint (and loses to the file).
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	// EnvSDKDisabled set to true turns tracing off whatever else says.
	EnvSDKDisabled = "OTEL_SDK_DISABLED"
)

// tracesPath is the OTLP/HTTP path of traces, appended to a base endpoint.
const tracesPath = "/v1/traces"

// headerNameRe is an HTTP header name (an RFC 9110 token).
var headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

var tracingSchema = object("OpenTelemetry tracing, off by default: one trace per batch (spans batch, read, plan, write, record) and per poll (poll, read), sent over OTLP/HTTP. On when otlp_endpoint is set here or OTEL_EXPORTER_OTLP_ENDPOINT is set in the environment; the file wins. See docs/tracing.md.", map[string]*jsonSchema{
	"enabled": {Type: "boolean", Description: "false keeps tracing off even when OTEL_EXPORTER_OTLP_ENDPOINT is set; true requires an endpoint. Default: on when an endpoint is known."},
	"otlp_endpoint": {Type: "string", Examples: []any{"http://localhost:4318", "env:OTLP_URL"},
		Description: "Base http(s) URL of an OTLP/HTTP receiver (an OpenTelemetry collector, Jaeger or Tempo, port 4318); /v1/traces is appended unless the path already ends with it. May be env:NAME. Wins over OTEL_EXPORTER_OTLP_ENDPOINT."},
	"headers": {Type: "object", AdditionalProperties: &jsonSchema{Type: "string"},
		Description: "HTTP headers sent with every export, such as a hosted backend's API key. A value may be env:NAME or file:PATH; the values of Authorization and of names holding key, token, secret or password must be. " + secretRefDoc},
	"sample_ratio": {Type: "number", Minimum: ptr(0), Maximum: ptr(1), Default: DefaultSampleRatio,
		Description: "Share of traces kept, from 0 to 1. Default 1: every batch and poll."},
	"service_name": {Type: "string", MinLength: ptr(1), Default: DefaultServiceName,
		Description: "service.name of the spans, to tell several concord instances apart in the tracing backend."},
})

func (l *loader) tracing(n *node) {
	m := l.object(n, "tracing", tracingSchema)
	t := &l.cfg.Tracing
	where := n
	if where == nil {
		where = &node{}
	}

	if e, ok := m["service_name"]; ok {
		if s, ok := l.str(e.v, "tracing.service_name"); ok {
			if strings.TrimSpace(s) == "" {
				l.add(e.v, "tracing.service_name is empty")
			} else {
				t.ServiceName = s
			}
		}
	}
	if e, ok := m["sample_ratio"]; ok {
		if v, ok := l.ratio(e.v, "tracing.sample_ratio"); ok {
			t.SampleRatio = v
		}
	}
	l.tracingHeaders(m["headers"].v)

	endpoint, from := "", ""
	if e, ok := m["otlp_endpoint"]; ok {
		if _, ok := l.str(e.v, "tracing.otlp_endpoint"); ok {
			if v, ok := l.maybeSecret(l.res, e.v, "tracing.otlp_endpoint", false); ok {
				if u, msg := otlpURL(v, true); msg != "" {
					l.add(e.v, "tracing.otlp_endpoint: %s", msg)
				} else {
					endpoint, from = u, "tracing.otlp_endpoint"
				}
			}
		}
	}
	enabled, set := false, false
	if e, ok := m["enabled"]; ok {
		enabled, set = l.boolean(e.v, "tracing.enabled")
	}
	if set && !enabled {
		return
	}
	if v, ok := l.res.env(EnvSDKDisabled); ok && strings.EqualFold(strings.TrimSpace(v), "true") {
		return
	}
	for _, env := range []string{EnvOTLPTracesEndpoint, EnvOTLPEndpoint} {
		if endpoint != "" {
			break
		}
		v, ok := l.res.env(env)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		u, msg := otlpURL(strings.TrimSpace(v), env == EnvOTLPEndpoint)
		if msg != "" {
			l.add(where, "the environment's %s: %s (or set tracing.enabled: false to ignore it)", env, msg)
			return
		}
		endpoint, from = u, env
	}
	if set && enabled && endpoint == "" {
		l.add(m["enabled"].v, "tracing.enabled is true but no endpoint is known: set tracing.otlp_endpoint (or %s)", EnvOTLPEndpoint)
	}
	t.Endpoint, t.EndpointFrom = endpoint, from
}

// tracingHeaders decodes tracing.headers: secret references are resolved; a
// secret-looking header may not be given inline.
func (l *loader) tracingHeaders(n *node) {
	if n == nil || n.kind == kindNull {
		return
	}
	if n.kind != kindMap {
		l.add(n, "tracing.headers: want a mapping of header names to values, got %s", n.describe())
		return
	}
	out := map[string]string{}
	for _, e := range n.entries {
		what := "tracing.headers." + e.key
		if !headerNameRe.MatchString(e.key) {
			l.add(e.k, "%s: %q is not an HTTP header name", "tracing.headers", e.key)
			continue
		}
		if _, dup := out[e.key]; dup {
			l.add(e.k, "duplicate key %q in tracing.headers", e.key)
			continue
		}
		var v string
		if isSecretHeader(e.key) {
			s, ok := l.secretValue(l.res, e.v, what)
			if !ok {
				continue
			}
			v = s
		} else {
			if _, ok := l.str(e.v, what); !ok {
				if e.v == nil || e.v.kind == kindNull {
					l.add(e.k, "%s has no value", what)
				}
				continue
			}
			s, ok := l.maybeSecret(l.res, e.v, what, true)
			if !ok {
				continue
			}
			v = s
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			l.add(e.v, "%s: a header value may not hold a line break", what)
			continue
		}
		out[e.key] = v
	}
	if len(out) > 0 {
		l.cfg.Tracing.Headers = out
	}
}

// isSecretHeader reports whether a header's value is a credential: one given
// inline is refused.
func isSecretHeader(name string) bool {
	k := strings.ToLower(name)
	return k == "authorization" || k == "proxy-authorization" || k == "cookie" || strings.Contains(k, "key") || isSecretKey(k)
}

// otlpURL checks an OTLP/HTTP endpoint and returns the traces URL: with base,
// /v1/traces is appended to the path unless it already ends with it. The
// message says what is wrong without repeating the value.
func otlpURL(s string, base bool) (string, string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "want an http:// or https:// URL such as http://localhost:4318"
	}
	if u.User != nil {
		return "", "a user or password in the URL is not accepted; send credentials with tracing.headers"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "a query or fragment in the URL is not accepted"
	}
	if base && !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), tracesPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + tracesPath
		u.RawPath = ""
	}
	return u.String(), ""
}

// ratio decodes a number in [0, 1].
func (l *loader) ratio(n *node, where string) (float64, bool) {
	v, ok := l.number(n, where, "a number between 0 and 1")
	if ok && (v < 0 || v > 1) {
		l.add(n, "%s: %g is out of range; want a number from 0 to 1", where, v)
		return 0, false
	}
	return v, ok
}
