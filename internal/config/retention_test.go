package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
)

func TestParseRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "90d", want: 90 * 24 * time.Hour},
		{in: "1d", want: 24 * time.Hour},
		{in: "720h", want: 720 * time.Hour},
		{in: "36h30m", want: 36*time.Hour + 30*time.Minute},
		{in: "1h", want: time.Hour},
		{in: "forever", want: 0},
		{in: " 30d ", want: 30 * 24 * time.Hour},
		{in: "6m", err: "shorter than 1h"},
		{in: "59m", err: "shorter than 1h"},
		{in: "0d", err: "not a period"},
		{in: "-3d", err: "not a period"},
		{in: "1.5d", err: "not a period"},
		{in: "30 days", err: "not a period"},
		{in: "", err: "not a period"},
		{in: "-1h", err: "not a period"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseRetention(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestLoad_Retention(t *testing.T) {
	t.Parallel()
	const head = "version: 1\nowner: jane.doe@example.com\nsystems: [{name: crm, connector: sql, settings: {table: x}}]\n"
	for _, tc := range []struct {
		name, yaml string
		want       time.Duration
	}{
		{"Default", "", config.DefaultEventRetention},
		{"Empty", "retention: {}\n", config.DefaultEventRetention},
		{"Days", "retention: {events: 30d}\n", 30 * 24 * time.Hour},
		{"Forever", "retention:\n  events: forever\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse("concord.yaml", []byte(head+tc.yaml), testRegistry(), lookupEnv)
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.Retention.Events)
		})
	}
	require.Equal(t, 90*24*time.Hour, config.DefaultEventRetention)
}
