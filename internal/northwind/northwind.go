package northwind

import (
	"time"

	"github.com/shopspring/decimal"

	concord "github.com/concord-sync/concord"
)

// dump is testdata/northwind/northwind.sql, embedded by the root package.
var dump = concord.NorthwindSQL

// Data is the whole Northwind sample database. Slices are in dump order,
// which is ascending by primary key.
type Data struct {
	Categories   []Category
	Suppliers    []Supplier
	Shippers     []Shipper
	Employees    []Employee
	Customers    []Customer
	Products     []Product
	Orders       []Order
	OrderDetails []OrderDetail
}

// Category is one row of the categories table.
type Category struct {
	ID          int
	Name        string
	Description string
}

// Supplier is one row of the suppliers table.
type Supplier struct {
	ID           int
	CompanyName  string
	ContactName  string
	ContactTitle string
	Address      string
	City         string
	Region       string
	PostalCode   string
	Country      string
	Phone        string
	Fax          string
	HomePage     string
}

// Shipper is one row of the shippers table.
type Shipper struct {
	ID          int
	CompanyName string
	Phone       string
}

// Employee is one row of the employees table. ReportsTo is 0 when NULL.
type Employee struct {
	ID              int
	LastName        string
	FirstName       string
	Title           string
	TitleOfCourtesy string
	BirthDate       time.Time
	HireDate        time.Time
	Address         string
	City            string
	Region          string
	PostalCode      string
	Country         string
	HomePhone       string
	Extension       string
	Notes           string
	ReportsTo       int
	PhotoPath       string
}

// Customer is one row of the customers table. ID is the five-letter
// Northwind customer code (ALFKI). NULL text columns are empty strings.
type Customer struct {
	ID           string
	CompanyName  string
	ContactName  string
	ContactTitle string
	Address      string
	City         string
	Region       string
	PostalCode   string
	Country      string
	Phone        string
	Fax          string
}

// Product is one row of the products table. UnitPrice is exact, rounded to
// cents (see the package doc).
type Product struct {
	ID              int
	Name            string
	SupplierID      int
	CategoryID      int
	QuantityPerUnit string
	UnitPrice       decimal.Decimal
	UnitsInStock    int
	UnitsOnOrder    int
	ReorderLevel    int
	Discontinued    bool
}

// Order is one row of the orders table. Dates are UTC midnights and are the
// zero time.Time when NULL (ShippedDate of unshipped orders).
type Order struct {
	ID             int
	CustomerID     string
	EmployeeID     int
	OrderDate      time.Time
	RequiredDate   time.Time
	ShippedDate    time.Time
	ShipVia        int
	Freight        decimal.Decimal
	ShipName       string
	ShipAddress    string
	ShipCity       string
	ShipRegion     string
	ShipPostalCode string
	ShipCountry    string
}

// OrderDetail is one row of the order_details table: one order line.
// Discount is a fraction (0.05 means 5 %).
type OrderDetail struct {
	OrderID   int
	ProductID int
	UnitPrice decimal.Decimal
	Quantity  int
	Discount  decimal.Decimal
}

// Gross returns UnitPrice × Quantity, exactly.
func (d OrderDetail) Gross() decimal.Decimal {
	return d.UnitPrice.Mul(decimal.NewFromInt(int64(d.Quantity)))
}

// Net returns UnitPrice × Quantity × (1 − Discount), exactly (no rounding;
// a 5 % discount can yield up to four decimal places).
func (d OrderDetail) Net() decimal.Decimal {
	return d.Gross().Mul(decimal.NewFromInt(1).Sub(d.Discount))
}

// OrderNetTotals returns, per order ID, the exact sum of Net over its lines.
func (d *Data) OrderNetTotals() map[int]decimal.Decimal {
	out := make(map[int]decimal.Decimal, len(d.Orders))
	for _, od := range d.OrderDetails {
		out[od.OrderID] = out[od.OrderID].Add(od.Net())
	}
	return out
}

// DetailsByOrder returns the order lines grouped by order ID, in dump order.
func (d *Data) DetailsByOrder() map[int][]OrderDetail {
	out := make(map[int][]OrderDetail, len(d.Orders))
	for _, od := range d.OrderDetails {
		out[od.OrderID] = append(out[od.OrderID], od)
	}
	return out
}

// Customer returns the customer with the given code, or false.
func (d *Data) Customer(id string) (Customer, bool) {
	for _, c := range d.Customers {
		if c.ID == id {
			return c, true
		}
	}
	return Customer{}, false
}

// Product returns the product with the given ID, or false.
func (d *Data) Product(id int) (Product, bool) {
	for _, p := range d.Products {
		if p.ID == id {
			return p, true
		}
	}
	return Product{}, false
}
