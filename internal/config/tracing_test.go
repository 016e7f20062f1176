package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
)

func TestLoad_Tracing(t *testing.T) {
	t.Parallel()
	const head = "version: 1\nowner: ops@example.com\nsystems: [{name: crm, connector: sql, settings: {table: t}}]\n"
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "otlp_key"), []byte("key-from-a-file\n"), 0o600))

	tests := []struct {
		name    string
		tracing string
		env     map[string]string
		want    config.Tracing
	}{
		{name: "OffByDefault", want: config.Tracing{SampleRatio: 1, ServiceName: "concord"}},
		{
			name:    "File",
			tracing: "tracing: {otlp_endpoint: 'http://collector:4318', sample_ratio: 0.25, service_name: concord-eu}\n",
			want:    config.Tracing{Endpoint: "http://collector:4318/v1/traces", EndpointFrom: "tracing.otlp_endpoint", SampleRatio: 0.25, ServiceName: "concord-eu"},
		},
		{
			name:    "FileWithPathAndTracesPath",
			tracing: "tracing: {otlp_endpoint: 'https://otlp.example.com/otlp/v1/traces'}\n",
			want:    config.Tracing{Endpoint: "https://otlp.example.com/otlp/v1/traces", EndpointFrom: "tracing.otlp_endpoint", SampleRatio: 1, ServiceName: "concord"},
		},
		{
			name:    "FileBasePath",
			tracing: "tracing: {otlp_endpoint: 'https://otlp.example.com/otlp/'}\n",
			want:    config.Tracing{Endpoint: "https://otlp.example.com/otlp/v1/traces", EndpointFrom: "tracing.otlp_endpoint", SampleRatio: 1, ServiceName: "concord"},
		},
		{
			name: "EnvSwitchesOn",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://agent:4318"},
			want: config.Tracing{Endpoint: "http://agent:4318/v1/traces", EndpointFrom: "OTEL_EXPORTER_OTLP_ENDPOINT", SampleRatio: 1, ServiceName: "concord"},
		},
		{
			name: "TracesEnvWinsOverBaseEnv",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://agent:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/traces"},
			want: config.Tracing{Endpoint: "http://tempo:4318/traces", EndpointFrom: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", SampleRatio: 1, ServiceName: "concord"},
		},
		{
			name:    "FileWinsOverEnv",
			tracing: "tracing: {otlp_endpoint: 'http://collector:4318'}\n",
			env:     map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://agent:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/traces"},
			want:    config.Tracing{Endpoint: "http://collector:4318/v1/traces", EndpointFrom: "tracing.otlp_endpoint", SampleRatio: 1, ServiceName: "concord"},
		},
		{
			name:    "DisabledInFileIgnoresEnv",
			tracing: "tracing: {enabled: false}\n",
			env:     map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "not a url"},
			want:    config.Tracing{SampleRatio: 1, ServiceName: "concord"},
		},
		{
			name:    "DisabledInFileWithEndpoint",
			tracing: "tracing: {enabled: false, otlp_endpoint: 'http://collector:4318'}\n",
			want:    config.Tracing{SampleRatio: 1, ServiceName: "concord"},
		},
		{
			name:    "SDKDisabled",
			tracing: "tracing: {otlp_endpoint: 'http://collector:4318'}\n",
			env:     map[string]string{"OTEL_SDK_DISABLED": "TRUE"},
			want:    config.Tracing{SampleRatio: 1, ServiceName: "concord"},
		},
		{
			name:    "EndpointFromEnvRef",
			tracing: "tracing: {otlp_endpoint: 'env:OTLP_URL', sample_ratio: 0}\n",
			env:     map[string]string{"OTLP_URL": "http://collector:4318"},
			want:    config.Tracing{Endpoint: "http://collector:4318/v1/traces", EndpointFrom: "tracing.otlp_endpoint", SampleRatio: 0, ServiceName: "concord"},
		},
		{
			name:    "Headers",
			tracing: "tracing:\n  otlp_endpoint: http://collector:4318\n  headers: {Authorization: env:OTLP_AUTH, x-api-key: file:otlp_key, X-Scope-OrgID: tenant-1}\n",
			env:     map[string]string{"OTLP_AUTH": "Bearer pw-from-env"},
			want: config.Tracing{
				Endpoint: "http://collector:4318/v1/traces", EndpointFrom: "tracing.otlp_endpoint", SampleRatio: 1, ServiceName: "concord",
				Headers: map[string]string{"Authorization": "Bearer pw-from-env", "x-api-key": "key-from-a-file", "X-Scope-OrgID": "tenant-1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := func(name string) (string, bool) {
				v, ok := tt.env[name]
				return v, ok
			}
			cfg, err := config.Parse(filepath.Join(dir, "concord.yaml"), []byte(head+tt.tracing), testRegistry(), env)
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.Tracing)
			require.Equal(t, tt.want.Endpoint != "", cfg.Tracing.Enabled())
		})
	}

	t.Run("ErrEnvNotAURL", func(t *testing.T) {
		t.Parallel()
		env := func(name string) (string, bool) {
			if name == "OTEL_EXPORTER_OTLP_ENDPOINT" {
				return "localhost:4317", true
			}
			return "", false
		}
		_, err := config.Parse("concord.yaml", []byte(head), testRegistry(), env)
		require.EqualError(t, err, "concord.yaml:1:1: the environment's OTEL_EXPORTER_OTLP_ENDPOINT: want an http:// or https:// URL such as http://localhost:4318 (or set tracing.enabled: false to ignore it)")
	})
}
