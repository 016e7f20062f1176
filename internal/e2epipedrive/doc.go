// Package e2epipedrive runs the real concord binary between the Pipedrive
// sandbox (internal/sandbox/pipedrive, over HTTP) and a real Tryton or Odoo,
// with the shipped examples/pipedrive-tryton and examples/pipedrive-odoo
// configs: the product catalogue into Pipedrive, the won-deal handoff into a
// confirmed Tryton sale or Odoo sale order, and the payment status back onto
// the deal. The Tryton test needs TRYTON_URL (see scripts/tryton.sh), the Odoo
// test ODOO_URL (scripts/odoo.sh); without them they skip, and fail under
// CI=true.
package e2epipedrive
