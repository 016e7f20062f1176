// Package e2enodes tests several concord serve nodes on one PostgreSQL store
// end to end: the real binary, three processes started at once on a fresh
// database, an ERP in PostgreSQL and the HubSpot sandbox; a node is killed
// (SIGKILL) and another restarted mid-run, and the target is counted at the
// end. BenchmarkNodes measures the throughput of one, two and three nodes.
// Both need TEST_DATABASE_URL (they skip without it, and fail under CI=true).
package e2enodes
