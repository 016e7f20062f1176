// Package e2esalesforce runs the real concord binary between the Salesforce
// sandbox (served over HTTP) and the real Tryton: the shipped
// examples/salesforce-tryton config, a won Opportunity handed over as a
// confirmed Tryton sale. The tests skip without TRYTON_URL and fail without
// it under CI=true.
package e2esalesforce
