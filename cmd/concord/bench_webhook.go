package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/webhookload"
)

func newBenchWebhookCmd() *cobra.Command {
	var cfg webhookload.Config
	secretEnv, secretFile := "CONCORD_WEBHOOK_SECRET", ""
	cmd := &cobra.Command{
		Use:   "webhook --url URL",
		Short: "Send signed HubSpot-style webhook deliveries to a running receiver and print acknowledgement latency",
		Long: `bench webhook sends --rate signed HubSpot deliveries per second for --duration to
--url (a running concord serve's POST /webhooks/{system}, or any receiver of HubSpot
v3 signatures), each a company.propertyChange event about one of --records companies
(objectId --first-id and up) taken in turn, and prints p50, p90, p99 and max
acknowledgement latency and the errors by kind.

Deliveries are sent open-loop: each is due at its time whatever became of the earlier
ones, and its latency counts from when it was due, so a receiver that falls behind
shows its backlog. An error is a non-2xx answer, a transport error, no answer within
--timeout, or a delivery not sent because 2000 were waiting for their answers.

The secret is the HubSpot app's client secret the receiver verifies with (the
system's webhook_secret): read from the environment variable --secret-env
(default CONCORD_WEBHOOK_SECRET) or from --secret-file. Each delivery is signed for
--url exactly; a receiver behind a proxy verifies against its webhook_url, so give
that URL. The events are new (event ids from the clock), so the receiver queues
them: point it at a test system, not at production. Exit status 1 when any
delivery failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.URL == "" {
				return usageErr(fmt.Errorf("--url is required"))
			}
			switch {
			case secretFile != "":
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return usageErr(fmt.Errorf("--secret-file: %w", err))
				}
				cfg.Secret = strings.TrimSpace(string(b))
			default:
				cfg.Secret = os.Getenv(secretEnv)
			}
			if cfg.Secret == "" {
				return usageErr(fmt.Errorf("no secret: set %s or give --secret-file", secretEnv))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "sending %d deliveries/s for %s to %s\n", cfg.Rate, cfg.Duration, cfg.URL)
			r, err := webhookload.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), r)
			if r.Errors > 0 {
				return fmt.Errorf("%d of %d deliveries failed", r.Errors, r.Sent)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.URL, "url", "", "the receiver's URL, such as http://127.0.0.1:8088/webhooks/hubspot")
	cmd.Flags().IntVar(&cfg.Rate, "rate", 500, "deliveries per second")
	cmd.Flags().DurationVar(&cfg.Duration, "duration", time.Minute, "how long to send")
	cmd.Flags().IntVar(&cfg.Records, "records", 100, "distinct companies the deliveries announce")
	cmd.Flags().Int64Var(&cfg.FirstID, "first-id", 1, "objectId of the first company (the others follow)")
	cmd.Flags().IntVar(&cfg.Events, "events", 1, "events per delivery")
	cmd.Flags().DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "how long a delivery may wait for its answer")
	cmd.Flags().StringVar(&secretEnv, "secret-env", secretEnv, "environment variable holding the webhook secret")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the webhook secret (instead of --secret-env)")
	return cmd
}
