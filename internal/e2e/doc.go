// Package e2e holds Concord's end-to-end tests of the order-to-cash flows: the
// real concord binary, run as a subprocess, between the HubSpot-compatible
// sandbox (internal/sandbox/hubspot) and a real Tryton server (a database of
// its own per test, cloned by trytontest), configured from
// examples/hubspot-tryton/concord.yaml; the two concord serve runs
// (TestIntegrationCleanRun_100Deals, TestIntegrationFaults_OrderToCash) use the
// demo's config, the latter through internal/faultproxy. The tests are TestIntegration*: they
// skip without TRYTON_URL and fail under CI=true (see trytontest.Require).
// The package has no code of its own besides this comment.
package e2e
