// Package e2esalesforce runs the real concord binary between the Salesforce
// sandbox (served over HTTP) and the real Tryton or Odoo: the shipped
// examples/salesforce-tryton and examples/salesforce-odoo configs, a won
// Opportunity handed over as a confirmed Tryton sale or Odoo sale order. The
// Tryton test skips without TRYTON_URL, the Odoo test without ODOO_URL (see
// scripts/odoo.sh); both fail without them under CI=true.
package e2esalesforce
