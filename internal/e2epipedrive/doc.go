// Package e2epipedrive runs the real concord binary between the Pipedrive
// sandbox (internal/sandbox/pipedrive, over HTTP) and a real Tryton, with the
// shipped examples/pipedrive-tryton config: the product catalogue into
// Pipedrive, the won-deal handoff into a confirmed Tryton sale, and the
// payment status back onto the deal. It needs TRYTON_URL (see
// scripts/tryton.sh); without it the tests skip, and fail under CI=true.
package e2epipedrive
