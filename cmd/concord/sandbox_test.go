package main

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSandbox_Commands: each `concord sandbox` serves its API seeded from
// Northwind on the address it prints, refuses a request without
// credentials as its vendor does, and stops on SIGTERM (its context).
func TestSandbox_Commands(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, banner, path string
		want               int
	}{
		{"hubspot", "HubSpot-compatible sandbox", "/crm/v3/objects/companies", http.StatusUnauthorized},
		{"salesforce", "Salesforce-compatible sandbox", "/services/data/v62.0/sobjects/Account/describe", http.StatusUnauthorized},
		{"pipedrive", "Pipedrive-compatible sandbox", "/api/v2/organizations", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			out := &syncBuffer{}
			done := make(chan error, 1)
			go func() {
				cmd := newRootCmd()
				cmd.SetOut(out)
				cmd.SetArgs([]string{"sandbox", tt.name, "--addr", "127.0.0.1:0", "--seed", "northwind", "--token", "t0k"})
				if tt.name == "salesforce" {
					cmd.SetArgs([]string{"sandbox", tt.name, "--addr", "127.0.0.1:0", "--seed", "northwind", "--client-id", "id", "--client-secret", "s"})
				}
				done <- cmd.ExecuteContext(ctx)
			}()
			addr := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
			require.Eventually(t, func() bool { return addr.MatchString(out.String()) }, 20*time.Second, 20*time.Millisecond, "banner: %q", out.String())
			require.Contains(t, out.String(), tt.banner)
			resp, err := http.Get(addr.FindStringSubmatch(out.String())[1] + tt.path)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode)
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("the sandbox did not stop")
			}
		})
	}
	t.Run("BadSeed", func(t *testing.T) {
		t.Parallel()
		cmd := newRootCmd()
		cmd.SetArgs([]string{"sandbox", "pipedrive", "--addr", "127.0.0.1:0", "--seed", "acme"})
		err := cmd.ExecuteContext(context.Background())
		require.ErrorContains(t, err, `--seed "acme": want northwind or nothing`)
	})
}
