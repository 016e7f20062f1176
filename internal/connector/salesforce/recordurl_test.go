package salesforce_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/model"
	sandbox "github.com/concord-sync/concord/internal/sandbox/salesforce"
)

// TestConn_RecordURL: the record's Lightning page at the instance the
// token named.
func TestConn_RecordURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Config{})
	c := f.open(t, nil)
	require.Equal(t, f.url+"/lightning/r/Account/001000000000001AAA/view", c.RecordURL(model.Account, "001000000000001AAA"))
	require.Equal(t, f.url+"/lightning/r/Opportunity/006x/view", c.RecordURL(model.Deal, "006x"))
	require.Empty(t, c.RecordURL(model.Invoice, "1"), "an entity the connector does not map has no page")
}
