package northwind_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/northwind"
)

func TestLoad(t *testing.T) {
	t.Parallel()

	d, err := northwind.Load()
	require.NoError(t, err)

	t.Run("Counts", func(t *testing.T) {
		t.Parallel()
		require.Len(t, d.Customers, 91)
		require.Len(t, d.Orders, 830)
		require.Len(t, d.OrderDetails, 2155)
		require.Len(t, d.Products, 77)
		require.Len(t, d.Categories, 8)
		require.Len(t, d.Suppliers, 29)
		require.Len(t, d.Shippers, 6)
		require.Len(t, d.Employees, 9)
	})

	t.Run("KnownValues", func(t *testing.T) {
		t.Parallel()
		c, ok := d.Customer("ALFKI")
		require.True(t, ok)
		require.Equal(t, "Alfreds Futterkiste", c.CompanyName)
		require.Equal(t, "Maria Anders", c.ContactName)
		require.Equal(t, "Germany", c.Country)
		require.Empty(t, c.Region, "NULL region must be empty")

		p, ok := d.Product(1)
		require.True(t, ok)
		require.Equal(t, "Chai", p.Name)
		require.True(t, p.UnitPrice.Equal(decimal.NewFromInt(18)), "price %s", p.UnitPrice)
		require.Equal(t, "10 boxes x 30 bags", p.QuantityPerUnit)
		require.True(t, p.Discontinued)

		o := d.Orders[0]
		require.Equal(t, 10248, o.ID)
		require.Equal(t, "VINET", o.CustomerID)
		require.Equal(t, time.Date(1996, 7, 4, 0, 0, 0, 0, time.UTC), o.OrderDate)
		require.Equal(t, "32.38", o.Freight.StringFixed(2))
		require.Equal(t, "59 rue de l'Abbaye", o.ShipAddress)

		// 9.80000019 in the dump is the float4 rendering of 9.80.
		require.Equal(t, "9.8", d.OrderDetails[1].UnitPrice.String())

		e := d.Employees[0]
		require.Equal(t, "Davolio", e.LastName)
		require.Equal(t, 2, e.ReportsTo)
		require.Equal(t, time.Date(1948, 12, 8, 0, 0, 0, 0, time.UTC), e.BirthDate)
		require.Equal(t, 0, d.Employees[1].ReportsTo, "NULL reports_to must be 0")

		require.Equal(t, "Beverages", d.Categories[0].Name)
		require.Equal(t, "DHL", d.Shippers[5].CompanyName)
	})

	t.Run("Apostrophes", func(t *testing.T) {
		t.Parallel()
		c, ok := d.Customer("BSBEV")
		require.True(t, ok)
		require.Equal(t, "B's Beverages", c.CompanyName)
		c, ok = d.Customer("BONAP")
		require.True(t, ok)
		require.Equal(t, "Bon app'", c.CompanyName)
	})

	t.Run("UnshippedOrdersHaveZeroDate", func(t *testing.T) {
		t.Parallel()
		n := 0
		for _, o := range d.Orders {
			if o.ShippedDate.IsZero() {
				n++
			}
		}
		require.Equal(t, 21, n)
	})

	t.Run("ExactTotals", func(t *testing.T) {
		t.Parallel()
		// Reference figures from PostgreSQL numeric arithmetic on the same dump
		// (round(unit_price::numeric, 2) * quantity * (1 - round(discount::numeric, 2))).
		gross, net, freight := decimal.Zero, decimal.Zero, decimal.Zero
		for _, od := range d.OrderDetails {
			gross = gross.Add(od.Gross())
			net = net.Add(od.Net())
		}
		for _, o := range d.Orders {
			freight = freight.Add(o.Freight)
		}
		require.Equal(t, "1354458.59", gross.String())
		require.Equal(t, "1265793.0395", net.String())
		require.Equal(t, "64942.69", freight.String())

		totals := d.OrderNetTotals()
		require.Len(t, totals, 830)
		require.Equal(t, "440", totals[10248].String())
		require.Equal(t, "1552.6", totals[10250].String())
		require.Equal(t, "1504.65", totals[10260].String())
		require.Len(t, d.DetailsByOrder()[10248], 3)
	})

	t.Run("FreshCopies", func(t *testing.T) {
		t.Parallel()
		d2, err := northwind.Load()
		require.NoError(t, err)
		d2.Customers[0].CompanyName = "changed"
		require.Equal(t, "Alfreds Futterkiste", d.Customers[0].CompanyName)
	})
}

func TestParse(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		in := strings.Join([]string{
			"SET client_encoding = 'UTF8';",
			"INSERT INTO customers VALUES ('XX', 'O''Brien''s, ''Pub''', NULL, 'a, b)', '', 'c', NULL, '1', 'IE', '(1) 2', NULL);",
			"INSERT INTO categories VALUES (9, 'Pics', NULL, '\\x0102ff');",
			"INSERT INTO products VALUES (5, 'P', NULL, 2, NULL, 1.99000001, 3, 0, 1, 0);",
			"INSERT INTO territories VALUES ('01581', 'Westboro', 1);",
		}, "\n")
		d, err := northwind.Parse(strings.NewReader(in))
		require.NoError(t, err)
		require.Len(t, d.Customers, 1)
		c := d.Customers[0]
		require.Equal(t, "O'Brien's, 'Pub'", c.CompanyName)
		require.Empty(t, c.ContactName)
		require.Equal(t, "a, b)", c.ContactTitle)
		require.Equal(t, "(1) 2", c.Phone)
		require.Len(t, d.Categories, 1)
		require.Empty(t, d.Categories[0].Description)
		require.Len(t, d.Products, 1)
		require.Equal(t, "1.99", d.Products[0].UnitPrice.String())
		require.Equal(t, 0, d.Products[0].SupplierID)
		require.False(t, d.Products[0].Discontinued)
	})

	for name, in := range map[string]string{
		"ErrUnterminatedString": "INSERT INTO shippers VALUES (1, 'abc);",
		"ErrBadInteger":         "INSERT INTO shippers VALUES (x1, 'abc', NULL);",
		"ErrColumnCount":        "INSERT INTO shippers VALUES (1, 'abc');",
		"ErrBadDecimal":         "INSERT INTO order_details VALUES (1, 2, 3.x, 4, 0);",
		"ErrBadDate":            "INSERT INTO orders VALUES (1, 'A', 1, '1996-13-01', NULL, NULL, 1, 1, 'n', 'a', 'c', NULL, 'p', 'c');",
		"ErrTrailing":           "INSERT INTO shippers VALUES (1, 'abc', NULL) junk;",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := northwind.Parse(strings.NewReader("-- comment\n" + in))
			require.Error(t, err)
			require.Contains(t, err.Error(), "line 2")
		})
	}
}
