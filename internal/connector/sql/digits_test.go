package sqlconn_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/model"
)

// TestConn_FieldDigits: the connector declares the numeric(p,s) columns the
// mapping writes, so that the engine refuses an amount the database cannot
// hold before the write (SQLite declares none).
func TestConn_FieldDigits(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, b backend) {
		f := newFixture(t, b)
		c := f.open(t)
		acc, prod := c.FieldDigits(model.Account), c.FieldDigits(model.Product)
		if b.driver == sqlconn.DriverSQLite {
			require.Empty(t, acc)
			require.Empty(t, prod)
			return
		}
		require.Equal(t, model.Digits{Precision: 20, Scale: 4}, acc["credit_limit"])
		require.Equal(t, model.Digits{Precision: 20, Scale: 6}, prod["list_price"])
		_, text := acc["name"]
		require.False(t, text, "only numeric columns")

		of := newOrderFixture(t, b)
		oc := of.open(t)
		order := oc.FieldDigits(model.Order)
		require.Equal(t, model.Digits{Precision: 20, Scale: 4}, order["total"])
		require.Equal(t, model.Digits{Precision: 20, Scale: 4}, order["lines.unit_price"])
		require.Equal(t, model.Digits{Precision: 20, Scale: 6}, order["lines.quantity"])
	})
}
