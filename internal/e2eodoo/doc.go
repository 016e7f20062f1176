// Package e2eodoo holds Concord's end-to-end tests of the order-to-cash flows
// between the HubSpot-compatible sandbox (internal/sandbox/hubspot) and a real
// Odoo 17 (a database of its own per test, cloned by odootest), through the
// real concord binary run as a subprocess (`concord sync --once`, `concord
// serve`), configured from testdata/concord.yaml.tmpl (the four flows of
// examples/hubspot-tryton with connector: odoo).
//
// Every test judges the run on what Odoo and the sandbox hold, read directly
// (Odoo over JSON-RPC as its admin, the sandbox in process), not on Concord's
// own account of it; Concord's events are read only to check what it tells
// its users:
//
//   - TestIntegrationCustomers: company and billing contact to res.partner at
//     deal won, refusals by the clean rules and by Odoo, fixed then delivered;
//   - TestIntegrationOrders: won deals to confirmed sale orders (lines,
//     prices, discounts, the products' taxes, totals), an archived product;
//   - TestIntegrationPayments: invoice posted and paid in Odoo onto the deal,
//     an invoice paid before its order was linked to the deal;
//   - TestIntegrationCatalogue: products with SKU, price and stock to the CRM,
//     a product without SKU held back until it has one;
//   - TestIntegrationKillOrderHandoff: `concord serve` killed with SIGKILL
//     every few seconds while deals are won; no duplicate, nothing lost.
//
// The tests are TestIntegration*: they skip without ODOO_URL and fail under
// CI=true (see odootest.Require). The package has no code of its own besides
// this comment.
package e2eodoo
