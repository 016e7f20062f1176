package northwind

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Load parses the embedded Northwind dump. Each call returns a fresh,
// independent *Data that the caller may modify. It is safe for concurrent use.
func Load() (*Data, error) {
	return Parse(bytes.NewReader(dump))
}

// Parse reads a PostgreSQL dump in the shape of northwind.sql and returns
// the rows of the tables Data knows. Lines other than single-line INSERT
// statements are ignored, as are INSERTs into other tables. Errors name the
// line and column that could not be read.
func Parse(r io.Reader) (*Data, error) {
	d := &Data{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if !strings.HasPrefix(line, "INSERT INTO ") {
			continue
		}
		table, vals, err := parseInsert(line)
		if err != nil {
			return nil, fmt.Errorf("parse line %d: %w", lineNo, err)
		}
		if err := d.add(table, vals); err != nil {
			return nil, fmt.Errorf("parse line %d: table %s: %w", lineNo, table, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dump: %w", err)
	}
	return d, nil
}

// value is one literal of a VALUES list.
type value struct {
	null   bool
	quoted bool
	text   string
}

// parseInsert splits `INSERT INTO t VALUES (a, 'b', NULL);` into the table
// name and its literals. Quoted strings double a quote to escape it; bytea literals
// ('\x...') are returned empty.
func parseInsert(line string) (string, []value, error) {
	rest := strings.TrimPrefix(line, "INSERT INTO ")
	table, rest, ok := strings.Cut(rest, " VALUES (")
	if !ok {
		return "", nil, errors.New("missing VALUES (")
	}
	var vals []value
	i := 0
	for {
		for i < len(rest) && rest[i] == ' ' {
			i++
		}
		if i >= len(rest) {
			return "", nil, errors.New("unterminated VALUES list")
		}
		var v value
		if rest[i] == '\'' {
			var sb strings.Builder
			i++
			closed := false
			for i < len(rest) {
				c := rest[i]
				if c == '\'' {
					if i+1 < len(rest) && rest[i+1] == '\'' {
						sb.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				sb.WriteByte(c)
				i++
			}
			if !closed {
				return "", nil, fmt.Errorf("value %d: unterminated string", len(vals)+1)
			}
			v = value{quoted: true, text: sb.String()}
			if strings.HasPrefix(v.text, `\x`) {
				v.text = "" // bytea content is not kept
			}
		} else {
			j := i
			for j < len(rest) && rest[j] != ',' && rest[j] != ')' {
				j++
			}
			tok := strings.TrimSpace(rest[i:j])
			if tok == "" {
				return "", nil, fmt.Errorf("value %d: empty literal", len(vals)+1)
			}
			if tok == "NULL" {
				v = value{null: true}
			} else {
				v = value{text: tok}
			}
			i = j
		}
		vals = append(vals, v)
		if i >= len(rest) {
			return "", nil, errors.New("unterminated VALUES list")
		}
		switch rest[i] {
		case ',':
			i++
		case ')':
			if strings.TrimSpace(rest[i+1:]) != ";" {
				return "", nil, fmt.Errorf("unexpected text after VALUES list: %q", rest[i+1:])
			}
			return table, vals, nil
		default:
			return "", nil, fmt.Errorf("value %d: unexpected %q", len(vals), rest[i])
		}
	}
}

// row reads typed columns from one VALUES list, remembering the first error.
type row struct {
	vals []value
	err  error
}

func (r *row) check(n int) bool {
	if len(r.vals) != n {
		r.err = fmt.Errorf("got %d values, want %d", len(r.vals), n)
		return false
	}
	return true
}

func (r *row) fail(col int, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("column %d: %w", col+1, err)
	}
}

func (r *row) str(col int) string {
	return r.vals[col].text
}

func (r *row) int(col int) int {
	v := r.vals[col]
	if v.null {
		return 0
	}
	n, err := strconv.Atoi(v.text)
	if err != nil {
		r.fail(col, fmt.Errorf("integer %q: %w", v.text, err))
	}
	return n
}

// dec parses a numeric literal as an exact decimal rounded to places.
func (r *row) dec(col int, places int32) decimal.Decimal {
	v := r.vals[col]
	if v.null {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(v.text)
	if err != nil {
		r.fail(col, fmt.Errorf("decimal %q: %w", v.text, err))
	}
	return d.RoundBank(places)
}

func (r *row) date(col int) time.Time {
	v := r.vals[col]
	if v.null {
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, v.text)
	if err != nil {
		r.fail(col, fmt.Errorf("date %q: %w", v.text, err))
	}
	return t
}

func (d *Data) add(table string, vals []value) error {
	r := &row{vals: vals}
	switch table {
	case "categories":
		if r.check(4) {
			d.Categories = append(d.Categories, Category{ID: r.int(0), Name: r.str(1), Description: r.str(2)})
		}
	case "suppliers":
		if r.check(12) {
			d.Suppliers = append(d.Suppliers, Supplier{
				ID: r.int(0), CompanyName: r.str(1), ContactName: r.str(2), ContactTitle: r.str(3),
				Address: r.str(4), City: r.str(5), Region: r.str(6), PostalCode: r.str(7),
				Country: r.str(8), Phone: r.str(9), Fax: r.str(10), HomePage: r.str(11),
			})
		}
	case "shippers":
		if r.check(3) {
			d.Shippers = append(d.Shippers, Shipper{ID: r.int(0), CompanyName: r.str(1), Phone: r.str(2)})
		}
	case "employees":
		if r.check(18) {
			d.Employees = append(d.Employees, Employee{
				ID: r.int(0), LastName: r.str(1), FirstName: r.str(2), Title: r.str(3),
				TitleOfCourtesy: r.str(4), BirthDate: r.date(5), HireDate: r.date(6),
				Address: r.str(7), City: r.str(8), Region: r.str(9), PostalCode: r.str(10),
				Country: r.str(11), HomePhone: r.str(12), Extension: r.str(13),
				// 14 is the photo (bytea), skipped.
				Notes: r.str(15), ReportsTo: r.int(16), PhotoPath: r.str(17),
			})
		}
	case "customers":
		if r.check(11) {
			d.Customers = append(d.Customers, Customer{
				ID: r.str(0), CompanyName: r.str(1), ContactName: r.str(2), ContactTitle: r.str(3),
				Address: r.str(4), City: r.str(5), Region: r.str(6), PostalCode: r.str(7),
				Country: r.str(8), Phone: r.str(9), Fax: r.str(10),
			})
		}
	case "products":
		if r.check(10) {
			disc := r.int(9)
			if disc != 0 && disc != 1 {
				r.fail(9, fmt.Errorf("discontinued %d is not 0 or 1", disc))
			}
			d.Products = append(d.Products, Product{
				ID: r.int(0), Name: r.str(1), SupplierID: r.int(2), CategoryID: r.int(3),
				QuantityPerUnit: r.str(4), UnitPrice: r.dec(5, 2), UnitsInStock: r.int(6),
				UnitsOnOrder: r.int(7), ReorderLevel: r.int(8), Discontinued: disc == 1,
			})
		}
	case "orders":
		if r.check(14) {
			d.Orders = append(d.Orders, Order{
				ID: r.int(0), CustomerID: r.str(1), EmployeeID: r.int(2), OrderDate: r.date(3),
				RequiredDate: r.date(4), ShippedDate: r.date(5), ShipVia: r.int(6),
				Freight: r.dec(7, 2), ShipName: r.str(8), ShipAddress: r.str(9), ShipCity: r.str(10),
				ShipRegion: r.str(11), ShipPostalCode: r.str(12), ShipCountry: r.str(13),
			})
		}
	case "order_details":
		if r.check(5) {
			d.OrderDetails = append(d.OrderDetails, OrderDetail{
				OrderID: r.int(0), ProductID: r.int(1), UnitPrice: r.dec(2, 2),
				Quantity: r.int(3), Discount: r.dec(4, 2),
			})
		}
	}
	return r.err
}
