package model

import (
	"fmt"
	"slices"
)

// Entity names a canonical record type.
type Entity string

// The canonical entities.
const (
	Account   Entity = "account"
	Contact   Entity = "contact"
	Product   Entity = "product"
	Deal      Entity = "deal"
	Order     Entity = "order"
	OrderLine Entity = "order_line"
	Invoice   Entity = "invoice"
	Payment   Entity = "payment"
)

// Entities lists every canonical entity in a stable order.
var Entities = []Entity{Account, Contact, Product, Deal, Order, OrderLine, Invoice, Payment}

// Valid reports whether e is a canonical entity.
func (e Entity) Valid() bool { return slices.Contains(Entities, e) }

// FieldType is the declared type of a canonical field.
type FieldType string

// The field types a canonical or custom field may declare.
const (
	TypeText     FieldType = "text"
	TypeEnum     FieldType = "enum"
	TypeDecimal  FieldType = "decimal"
	TypeMoney    FieldType = "money"
	TypeDate     FieldType = "date"
	TypeDateTime FieldType = "datetime"
	TypeBool     FieldType = "bool"
	TypeRef      FieldType = "ref"
	TypeLines    FieldType = "lines"
)

// FieldTypes lists the valid field types.
var FieldTypes = []FieldType{TypeText, TypeEnum, TypeDecimal, TypeMoney, TypeDate, TypeDateTime, TypeBool, TypeRef, TypeLines}

// Kind returns the value kind that fields of type t hold.
func (t FieldType) Kind() Kind {
	switch t {
	case TypeText, TypeEnum:
		return KindText
	case TypeDecimal:
		return KindDecimal
	case TypeMoney:
		return KindMoney
	case TypeDate:
		return KindDate
	case TypeDateTime:
		return KindTime
	case TypeBool:
		return KindBool
	case TypeRef:
		return KindRef
	case TypeLines:
		return KindLines
	}
	return KindNull
}

// FieldDef describes one canonical field.
type FieldDef struct {
	Name string
	Type FieldType
	// Values lists the allowed values of an enum.
	Values []string
	// Ref is the referenced entity of a ref field, or the child entity of a lines field.
	Ref Entity
	// Doc is a one-line description for docs and the JSON Schema.
	Doc string
}

// Check reports whether v may be stored in the field: null, or of the field's kind,
// with an allowed enum value.
func (d FieldDef) Check(v Value) error {
	if v.IsNull() {
		return nil
	}
	if v.Kind != d.Type.Kind() {
		return fmt.Errorf("field %s: want %s, got %s", d.Name, d.Type, v.Kind)
	}
	if d.Type == TypeEnum && len(d.Values) > 0 && !slices.Contains(d.Values, v.Str) {
		return fmt.Errorf("field %s: %q is not one of %v", d.Name, v.Str, d.Values)
	}
	if d.Type == TypeMoney && len(v.Currency) != 3 {
		return fmt.Errorf("field %s: currency %q is not an ISO 4217 code", d.Name, v.Currency)
	}
	return nil
}

// Schema returns the standard fields of e, in declaration order. Config files may add
// custom fields of their own; see config.
func Schema(e Entity) []FieldDef { return schemas[e] }

// LookupField returns the standard field name of e.
func LookupField(e Entity, name string) (FieldDef, bool) {
	for _, d := range schemas[e] {
		if d.Name == name {
			return d, true
		}
	}
	return FieldDef{}, false
}

func text(name, doc string) FieldDef { return FieldDef{Name: name, Type: TypeText, Doc: doc} }

func typed(name string, t FieldType, doc string) FieldDef {
	return FieldDef{Name: name, Type: t, Doc: doc}
}

func enum(name, doc string, values ...string) FieldDef {
	return FieldDef{Name: name, Type: TypeEnum, Values: values, Doc: doc}
}

func ref(name string, e Entity, doc string) FieldDef {
	return FieldDef{Name: name, Type: TypeRef, Ref: e, Doc: doc}
}

var schemas = map[Entity][]FieldDef{
	Account: {
		text("name", "legal or trading name"),
		text("domain", "web domain"),
		text("email", "main e-mail address"),
		text("phone", "main phone number, E.164"),
		text("street", "billing street"),
		text("city", "billing city"),
		text("zip", "billing postal code"),
		text("region", "billing state or region"),
		text("country", "billing country, ISO 3166-1 alpha-2"),
		text("vat", "VAT or tax id"),
		text("segment", "customer segment"),
		text("currency", "preferred currency, ISO 4217"),
		typed("credit_limit", TypeMoney, "credit limit granted by finance"),
		typed("open_balance", TypeMoney, "amount invoiced and not yet paid"),
		text("customer_number", "the ERP's customer number"),
		text("contact_name", "billing contact's name"),
		text("contact_title", "billing contact's job title"),
		typed("active", TypeBool, "false when archived"),
	},
	Contact: {
		text("first_name", "first name"),
		text("last_name", "last name"),
		text("email", "e-mail address"),
		text("phone", "phone number, E.164"),
		text("title", "job title"),
		ref("account", Account, "the contact's company"),
	},
	Product: {
		text("sku", "stock keeping unit / product code"),
		text("name", "product name"),
		text("description", "description"),
		typed("list_price", TypeMoney, "sale price per unit"),
		typed("cost_price", TypeMoney, "cost price per unit"),
		typed("stock", TypeDecimal, "quantity on hand in the warehouse"),
		text("unit", "unit of measure"),
		text("category", "product category"),
		typed("active", TypeBool, "false when discontinued"),
	},
	Deal: {
		text("name", "deal name"),
		enum("stage", "pipeline stage", "appointment", "qualified", "presentation", "decision", "contract", "won", "lost"),
		typed("amount", TypeMoney, "deal amount"),
		typed("close_date", TypeDate, "expected or actual close date"),
		ref("account", Account, "the customer"),
		ref("contact", Contact, "the billing contact"),
		FieldDef{Name: "lines", Type: TypeLines, Ref: OrderLine, Doc: "line items"},
		text("invoice_number", "number of the ERP invoice"),
		enum("invoice_state", "state of the ERP invoice", "draft", "posted", "paid", "cancelled"),
		typed("amount_due", TypeMoney, "invoice amount still to pay"),
		typed("paid_date", TypeDate, "date the invoice was paid"),
		typed("overdue", TypeBool, "invoice past its due date and not paid"),
		text("erp_sync_status", "result of the last handoff to the ERP"),
	},
	Order: {
		text("reference", "the CRM deal id"),
		text("number", "order number in the ERP"),
		enum("state", "order state", "draft", "quotation", "confirmed", "processing", "done", "cancelled"),
		ref("account", Account, "the customer"),
		ref("contact", Contact, "the billing contact"),
		typed("order_date", TypeDate, "order date"),
		text("currency", "ISO 4217 currency"),
		FieldDef{Name: "lines", Type: TypeLines, Ref: OrderLine, Doc: "order lines"},
		typed("total", TypeMoney, "total including taxes"),
		typed("untaxed", TypeMoney, "total without taxes"),
	},
	OrderLine: {
		ref("product", Product, "the product"),
		text("description", "line description"),
		typed("quantity", TypeDecimal, "quantity"),
		text("unit", "unit of measure"),
		typed("unit_price", TypeMoney, "price per unit before discount"),
		typed("discount", TypeDecimal, "discount as a fraction, 0.1 = 10%"),
		typed("amount", TypeMoney, "line total after discount, before tax"),
	},
	Invoice: {
		text("number", "invoice number"),
		enum("state", "invoice state", "draft", "posted", "paid", "cancelled"),
		ref("account", Account, "the customer"),
		ref("order", Order, "the sale the invoice comes from"),
		text("reference", "the CRM deal id, through the sale"),
		typed("invoice_date", TypeDate, "invoice date"),
		typed("due_date", TypeDate, "payment due date"),
		typed("total", TypeMoney, "total including taxes"),
		typed("amount_due", TypeMoney, "amount still to pay"),
		typed("paid_date", TypeDate, "date fully paid"),
		typed("overdue", TypeBool, "past due and not paid"),
	},
	Payment: {
		ref("invoice", Invoice, "the invoice paid"),
		typed("amount", TypeMoney, "amount paid"),
		typed("date", TypeDate, "payment date"),
		text("method", "payment method"),
	},
}
