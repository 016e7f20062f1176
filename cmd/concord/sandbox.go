package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/hubspot"
	"github.com/concord-sync/concord/internal/server"
)

func newSandboxCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a local server that speaks a product's API, for demos, trials and tests",
	}
	cfg := hubspot.DefaultConfig()
	var addr, seed string
	var deals int
	var seedN uint64
	hs := &cobra.Command{
		Use:   "hubspot",
		Short: "Serve a HubSpot-compatible CRM API (objects, batch, search, properties, associations, webhooks, rate limits)",
		Long: `sandbox hubspot serves HubSpot's CRM v3/v4 API paths and payloads on a local
address, with HubSpot's rate limits (a budget per 10 s, 429 with Retry-After),
private-app bearer tokens, search with its 10,000-result ceiling and indexing
delay, batch calls with 207 Multi-Status, and signed v3 webhooks. State is kept
in memory. --seed northwind loads Northwind's customers as companies and contacts,
its products, and generated deals across the pipeline. See docs/sandbox.md for
what it covers and what it does not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Logger = log
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			srv := hubspot.New(cfg)
			defer srv.Close()
			if err := seedNorthwind(seed, deals, seedN, srv.Seed); err != nil {
				return err
			}
			return serveSandbox(cmd, addr, srv.Handler(), func(at net.Addr) string {
				return fmt.Sprintf("HubSpot-compatible sandbox on http://%s (token: %s; %d requests per 10 s)", at, tokenHint(cfg.Token), cfg.RateLimit)
			})
		},
	}
	f := hs.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8089", "listen address")
	f.StringVar(&cfg.Token, "token", "", "private-app token clients must send (empty: any token)")
	f.IntVar(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "requests per 10 s per token (negative: no limit)")
	f.DurationVar(&cfg.SearchDelay, "search-delay", cfg.SearchDelay, "delay before a change becomes searchable")
	f.StringVar(&seed, "seed", "", "seed data: northwind")
	f.IntVar(&deals, "deals", 60, "generated deals when seeding")
	f.Uint64Var(&seedN, "random-seed", 1, "random seed for generated deals")
	f.StringVar(&cfg.Webhook.URL, "webhook-url", "", "deliver signed webhooks to this URL")
	f.StringVar(&cfg.Webhook.ClientSecret, "webhook-secret", "", "the app's client secret that signs webhooks")
	cmd.AddCommand(hs)
	cmd.AddCommand(newSandboxSalesforceCmd(g))
	cmd.AddCommand(newSandboxPipedriveCmd(g))
	return cmd
}

func tokenHint(t string) string {
	if t == "" {
		return "any"
	}
	return "as given"
}

// seedNorthwind seeds a sandbox with Northwind's customers, products and
// deals generated with randomSeed when --seed is northwind.
func seedNorthwind(seed string, deals int, randomSeed uint64, seedFn func(*northwind.Data, int, *rand.Rand) error) error {
	switch seed {
	case "":
		return nil
	case "northwind":
		data, err := northwind.Load()
		if err != nil {
			return err
		}
		if err := seedFn(data, deals, rand.New(rand.NewPCG(randomSeed, randomSeed))); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		return nil
	}
	return usageErr(fmt.Errorf("--seed %q: want northwind or nothing", seed))
}

// serveSandbox serves h on addr until the command's context ends (SIGTERM or
// Ctrl-C), after printing banner with the address it listens on.
func serveSandbox(cmd *cobra.Command, addr string, h http.Handler, banner func(at net.Addr) string) error {
	ln, err := server.Listen(addr, server.DefaultLimits())
	if err != nil {
		return err
	}
	hsrv := server.NewHTTPServer(h, server.DefaultLimits())
	fmt.Fprintln(cmd.OutOrStdout(), banner(ln.Addr()))
	ctx := cmd.Context()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hsrv.Shutdown(sctx)
	}()
	if err := hsrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
