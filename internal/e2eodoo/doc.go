// Package e2eodoo holds Concord's end-to-end tests of the order-to-cash flows
// between the HubSpot-compatible sandbox (internal/sandbox/hubspot) and a real
// Odoo 17 (a database of its own per test, cloned by odootest), through the
// real concord binary run as a subprocess (`concord sync --once`, `concord
// serve`), configured from testdata/concord.yaml.tmpl. Every test judges the
// run on what Odoo and the sandbox hold, read directly (Odoo over JSON-RPC as
// its admin), not on Concord's own account of it. The tests are
// TestIntegration*: they skip without ODOO_URL and fail under CI=true (see
// odootest.Require). The package has no code of its own besides this comment.
package e2eodoo
