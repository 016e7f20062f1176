package match

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalise(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Müller-Lüdenscheidt GmbH.": "muller ludenscheidt gmbh",
		"Chef Anton's Cajun":        "chef antons cajun",
		"Smith & Sons, Ltd":         "smith and sons ltd",
		"Gustaf's Knäckebröd S.A.":  "gustafs knackebrod sa",
		"Vaffeljernet A/S":          "vaffeljernet as",
		"  Straße   der Einheit ":   "strasse der einheit",
		"Bølgen ÆØ":                 "bolgen aeo",
		"":                          "",
	} {
		require.Equal(t, want, Normalise(in), in)
	}
}

func TestParseName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, joined, legal string }{
		{"Alfreds Futterkiste GmbH", "alfreds futterkiste", "gmbh"},
		{"Smith & Sons Ltd", "smith sons", "ltd"},
		{"Smith and Sons Limited", "smith sons", "ltd"},
		{"Müller GmbH & Co. KG", "muller", "gmbh co kg"},
		{"Smith & Co", "smith", "co"},
		{"The Big Cheese", "big cheese", ""},
		{"Acme Intl. Inc.", "acme international", "inc"},
		{"Berglunds snabbköp AB", "berglunds snabbkop", "ab"},
		{"GmbH", "gmbh", ""},
		{"Tortuga Restaurante S.A. de C.V.", "tortuga restaurante sa de cv", ""},
	} {
		n := parseName(tt.in)
		require.Equal(t, tt.joined, n.joined, tt.in)
		require.Equal(t, tt.legal, n.legal, tt.in)
	}
}

func TestParseStreet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, joined, number string }{
		{"Obere Str. 57", "obere street", "57"},
		{"Obere Straße 57", "obere street", "57"},
		{"Hauptstrasse 12a", "haupt street", "12a"},
		{"12 Orchestra Terrace", "orchestra terrace", "12"},
		{"Avda. de la Constitución 2222", "avenue de la constitucion", "2222"},
		{"Avenida de la Constitucion 2222", "avenue de la constitucion", "2222"},
		{"120 Hanover Sq.", "hanover square", "120"},
	} {
		s := parseStreet(tt.in)
		require.Equal(t, tt.joined, s.joined, tt.in)
		require.Equal(t, tt.number, s.number, tt.in)
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ field, in, want string }{
		{"vat", "DE 123.456.789", "123456789"},
		{"vat", "123456789", "123456789"},
		{"vat", "gb-123 4567 89", "123456789"},
		{"email", "Maria.Anders+crm@Example.COM", "maria.anders@example.com"},
		{"email", "not an address", ""},
		{"domain", "https://www.Alfreds.de/kontakt?x=1", "alfreds.de"},
		{"domain", "maria@alfreds.de", "alfreds.de"},
		{"domain", "maria@gmail.com", ""},
		{"domain", "http://yahoo.co.uk", ""},
		{"sku", "nw-0001 a", "NW0001A"},
		{"customer_number", "C-00042", "C42"},
		{"customer_number", "00042", "42"},
		{"customer_number", "ALFKI", "ALFKI"},
		{"customer_number", " ", ""},
	} {
		require.Equal(t, tt.want, Key(tt.field, tt.in), tt.field+" "+tt.in)
	}
}

func TestParsePhone(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, cc, digits string }{
		{"+44 20 7946 0958", "44", "2079460958"},
		{"0044 (0)20 7946 0958", "44", "2079460958"},
		{"020 7946 0958", "", "2079460958"},
		{"030-0074321", "", "300074321"},
		{"+1 (503) 555-3612", "1", "5035553612"},
		{"(503) 555-3612", "", "5035553612"},
		{"+358 9 123 456", "358", "9123456"},
	} {
		p := parsePhone(tt.in)
		require.Equal(t, tt.cc, p.cc, tt.in)
		require.Equal(t, tt.digits, p.digits, tt.in)
	}
}

func TestCountryCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"Germany": "de", "DE": "de", "Deutschland": "de", "UK": "gb", "United Kingdom": "gb", "USA": "us", "España": "es", "Atlantis": "atlantis"} {
		require.Equal(t, want, countryCode(in), in)
	}
}

func TestPhonetic(t *testing.T) {
	t.Parallel()
	require.Equal(t, phonetic("futterkiste"), phonetic("futerkiste"))
	require.Equal(t, phonetic("philipp"), phonetic("filip"))
	require.NotEqual(t, phonetic("berlin"), phonetic("london"))
	require.Empty(t, phonetic("123"))
}
