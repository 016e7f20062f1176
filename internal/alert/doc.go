// Package alert tells the integration's owner when something is wrong.
//
// An Evaluator reads health.Snapshot values over time (and, as an
// engine.Observer, the polls and recorded pieces it needs for history: the
// usual interval between changes, the share of failed records) and decides,
// per rule and subject (a flow, a system, the store), whether an alert fires.
// An alert fires once, is sent again every repeat interval while it lasts,
// and is resolved with a message when it ends. Notices go to Notifiers (e-mail
// over SMTP, a webhook with a JSON or Slack body); a delivery that fails is
// logged and retried at the next evaluation, and never blocks the engine.
//
// The rules, their defaults and what to do when each fires are in
// docs/alerts.md.
package alert
