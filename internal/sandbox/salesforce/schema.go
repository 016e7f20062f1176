package salesforce

import (
	"strings"
)

// fieldType is a Salesforce field type as describe reports it.
type fieldType string

const (
	tID        fieldType = "id"
	tString    fieldType = "string"
	tTextArea  fieldType = "textarea"
	tEmail     fieldType = "email"
	tPhone     fieldType = "phone"
	tURL       fieldType = "url"
	tPicklist  fieldType = "picklist"
	tDouble    fieldType = "double"
	tCurrency  fieldType = "currency"
	tPercent   fieldType = "percent"
	tDate      fieldType = "date"
	tDateTime  fieldType = "datetime"
	tBoolean   fieldType = "boolean"
	tReference fieldType = "reference"
)

// fieldDef is one field of an sObject.
type fieldDef struct {
	Name       string
	Label      string
	Type       fieldType
	Length     int
	Required   bool // not nillable and not defaulted: a create must give it
	ReadOnly   bool // neither createable nor updateable
	CreateOnly bool // createable, not updateable
	ExternalID bool
	Unique     bool
	Custom     bool
	RefTo      string   // the sObject a reference points to
	Picklist   []string // allowed values, for a restricted picklist
	Scale      int      // decimal places for numbers
}

// objectDef is one sObject type.
type objectDef struct {
	Name   string
	Label  string
	Prefix string // the three-character key prefix of its ids
	Fields []*fieldDef
	byName map[string]*fieldDef // lower-case name -> field
}

func (o *objectDef) field(name string) *fieldDef { return o.byName[strings.ToLower(name)] }

func (o *objectDef) add(f *fieldDef) {
	if f.Label == "" {
		f.Label = f.Name
	}
	o.Fields = append(o.Fields, f)
	o.byName[strings.ToLower(f.Name)] = f
}

// systemFields are on every object and maintained by the server.
func systemFields() []*fieldDef {
	return []*fieldDef{
		{Name: "Id", Type: tID, Length: 18, ReadOnly: true},
		{Name: "IsDeleted", Type: tBoolean, ReadOnly: true},
		{Name: "CreatedDate", Type: tDateTime, ReadOnly: true},
		{Name: "LastModifiedDate", Type: tDateTime, ReadOnly: true},
		{Name: "SystemModstamp", Type: tDateTime, ReadOnly: true},
	}
}

// stage is one opportunity stage (OpportunityStage).
type stage struct {
	Label       string
	IsClosed    bool
	IsWon       bool
	Probability int
}

// stages are the stages of a new org's default sales process.
var stages = []stage{
	{"Prospecting", false, false, 10},
	{"Qualification", false, false, 10},
	{"Needs Analysis", false, false, 20},
	{"Value Proposition", false, false, 50},
	{"Id. Decision Makers", false, false, 60},
	{"Perception Analysis", false, false, 70},
	{"Proposal/Price Quote", false, false, 75},
	{"Negotiation/Review", false, false, 90},
	{"Closed Won", true, true, 100},
	{"Closed Lost", true, false, 0},
}

func stageByLabel(label string) (stage, bool) {
	for _, s := range stages {
		if s.Label == label {
			return s, true
		}
	}
	return stage{}, false
}

// standardObjects returns the sObjects of a new org.
func standardObjects() map[string]*objectDef {
	objs := map[string]*objectDef{}
	def := func(name, label, prefix string, fields ...*fieldDef) {
		o := &objectDef{Name: name, Label: label, Prefix: prefix, byName: map[string]*fieldDef{}}
		for _, f := range systemFields() {
			o.add(f)
		}
		for _, f := range fields {
			o.add(f)
		}
		objs[strings.ToLower(name)] = o
	}
	str := func(name string, length int) *fieldDef { return &fieldDef{Name: name, Type: tString, Length: length} }
	req := func(f *fieldDef) *fieldDef { f.Required = true; return f }
	ref := func(name, to string) *fieldDef { return &fieldDef{Name: name, Type: tReference, Length: 18, RefTo: to} }
	ro := func(f *fieldDef) *fieldDef { f.ReadOnly = true; return f }
	money := func(name string) *fieldDef { return &fieldDef{Name: name, Type: tCurrency, Scale: 2} }
	stageNames := make([]string, len(stages))
	for i, s := range stages {
		stageNames[i] = s.Label
	}

	def("Account", "Account", "001",
		req(str("Name", 255)), str("AccountNumber", 40), &fieldDef{Name: "Phone", Type: tPhone, Length: 40},
		&fieldDef{Name: "Website", Type: tURL, Length: 255}, str("Industry", 255), str("Type", 255),
		&fieldDef{Name: "BillingStreet", Type: tTextArea, Length: 255}, str("BillingCity", 40),
		str("BillingPostalCode", 20), str("BillingState", 80), str("BillingCountry", 80),
		&fieldDef{Name: "Description", Type: tTextArea, Length: 32000})
	def("Contact", "Contact", "003",
		str("FirstName", 40), req(str("LastName", 80)), &fieldDef{Name: "Email", Type: tEmail, Length: 80},
		&fieldDef{Name: "Phone", Type: tPhone, Length: 40}, str("Title", 128), ref("AccountId", "Account"),
		ro(str("Name", 121)))
	def("Opportunity", "Opportunity", "006",
		req(str("Name", 120)), req(&fieldDef{Name: "StageName", Type: tPicklist, Length: 255, Picklist: stageNames}),
		req(&fieldDef{Name: "CloseDate", Type: tDate}), money("Amount"), ref("AccountId", "Account"),
		ref("ContactId", "Contact"), ref("Pricebook2Id", "Pricebook2"),
		&fieldDef{Name: "Probability", Type: tPercent, Scale: 0},
		ro(&fieldDef{Name: "IsClosed", Type: tBoolean}), ro(&fieldDef{Name: "IsWon", Type: tBoolean}),
		&fieldDef{Name: "Description", Type: tTextArea, Length: 32000})
	def("Product2", "Product", "01t",
		req(str("Name", 255)), str("ProductCode", 255), &fieldDef{Name: "Description", Type: tTextArea, Length: 4000},
		&fieldDef{Name: "IsActive", Type: tBoolean}, str("Family", 255), str("QuantityUnitOfMeasure", 255))
	def("Pricebook2", "Price Book", "01s",
		req(str("Name", 255)), &fieldDef{Name: "IsActive", Type: tBoolean},
		ro(&fieldDef{Name: "IsStandard", Type: tBoolean}), &fieldDef{Name: "Description", Type: tTextArea, Length: 255})
	def("PricebookEntry", "Price Book Entry", "01u",
		&fieldDef{Name: "Pricebook2Id", Type: tReference, Length: 18, RefTo: "Pricebook2", Required: true, CreateOnly: true},
		&fieldDef{Name: "Product2Id", Type: tReference, Length: 18, RefTo: "Product2", Required: true, CreateOnly: true},
		req(money("UnitPrice")), &fieldDef{Name: "IsActive", Type: tBoolean},
		&fieldDef{Name: "UseStandardPrice", Type: tBoolean}, ro(str("Name", 255)), ro(str("ProductCode", 255)))
	def("OpportunityLineItem", "Opportunity Product", "00k",
		&fieldDef{Name: "OpportunityId", Type: tReference, Length: 18, RefTo: "Opportunity", Required: true, CreateOnly: true},
		&fieldDef{Name: "PricebookEntryId", Type: tReference, Length: 18, RefTo: "PricebookEntry", Required: true, CreateOnly: true},
		ro(ref("Product2Id", "Product2")), req(&fieldDef{Name: "Quantity", Type: tDouble, Scale: 2}),
		money("UnitPrice"), money("TotalPrice"), ro(money("ListPrice")), ro(money("Subtotal")),
		&fieldDef{Name: "Discount", Type: tPercent, Scale: 2}, &fieldDef{Name: "Description", Type: tString, Length: 255},
		&fieldDef{Name: "ServiceDate", Type: tDate}, ro(str("Name", 376)), ro(str("ProductCode", 255)))
	def("OpportunityStage", "Opportunity Stage", "01J",
		ro(str("MasterLabel", 255)), ro(str("ApiName", 255)), ro(&fieldDef{Name: "IsActive", Type: tBoolean}),
		ro(&fieldDef{Name: "IsClosed", Type: tBoolean}), ro(&fieldDef{Name: "IsWon", Type: tBoolean}),
		ro(&fieldDef{Name: "DefaultProbability", Type: tPercent}), ro(&fieldDef{Name: "SortOrder", Type: tDouble}))
	return objs
}
