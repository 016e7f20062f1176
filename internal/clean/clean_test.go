package clean_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/northwind"
)

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rules   []string
		in      model.Value
		want    model.Value
		wantErr string
	}{
		{"TrimCollapses", []string{"trim"}, model.Text("  Alfreds   Futterkiste "), model.Text("Alfreds Futterkiste"), ""},
		{"EmailLowered", []string{"trim", "email"}, model.Text(" Maria@Alfreds.DE "), model.Text("maria@alfreds.de"), ""},
		{"EmailRefused", []string{"email"}, model.Text("maria at alfreds"), model.Value{}, "email"},
		{"EmailNoDot", []string{"email"}, model.Text("maria@localhost"), model.Value{}, "no valid domain"},
		{"PhoneE164", []string{"phone"}, model.Text("+49 (030) 0074321"), model.Text("+49300074321"), ""},
		{"Phone00", []string{"phone"}, model.Text("0049 30 0074321"), model.Text("+49300074321"), ""},
		{"PhoneNoPrefix", []string{"phone"}, model.Text("030-0074321"), model.Value{}, "international prefix"},
		{"PhoneTooShort", []string{"phone"}, model.Text("+44 20 79"), model.Value{}, "wrong number of digits"},
		{"PhoneLetters", []string{"phone"}, model.Text("+49 30 CALLME"), model.Value{}, "letters"},
		{"CountryName", []string{"country"}, model.Text("Germany"), model.Text("DE"), ""},
		{"CountryAlias", []string{"country"}, model.Text("UK"), model.Text("GB"), ""},
		{"CountryCode", []string{"country"}, model.Text("fr"), model.Text("FR"), ""},
		{"CountryUnknown", []string{"country"}, model.Text("Atlantis"), model.Value{}, "country"},
		{"VAT", []string{"vat"}, model.Text("de 123.456.789"), model.Text("DE123456789"), ""},
		{"VATRefused", []string{"vat"}, model.Text("12"), model.Value{}, "vat"},
		{"NullPasses", []string{"email"}, model.Null, model.Null, ""},
		{"NonText", []string{"trim"}, model.Bool(true), model.Value{}, "not text"},
		{"UnknownRule", []string{"shout"}, model.Text("x"), model.Value{}, "unknown rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := clean.Apply(tt.rules, tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.True(t, tt.want.Equal(got), "got %q want %q", got.String(), tt.want.String())
		})
	}
}

// TestPhone_Country: a national number is read in the record's country (or the
// configured default); only what still fails is refused. The numbers are the
// formats of the Northwind sample data and of hand-typed CRM records.
func TestPhone_Country(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, country, want, wantErr string
	}{
		{"020 7946 0958", "GB", "+442079460958", ""},
		{"(171) 555-7788", "GB", "+441715557788", ""},
		{"030-0074321", "DE", "+49300074321", ""},
		{"0621-08460", "DE", "+4962108460", ""},
		{"88.60.15.31", "FR", "", "wrong number of digits"},  // France went to 9 digits in 1996
		{"(5) 555-4729", "MX", "", "wrong number of digits"}, // Mexico City went to 8 digits in 2002
		{"(503) 555-7555", "US", "+15035557555", ""},
		{"+1 503 555 7555", "DE", "+15035557555", ""}, // an international prefix wins over the country
		{"0049 30 0074321", "", "+49300074321", ""},
		{"030-0074321", "", "", "no international prefix"},
		{"030-0074321", "XX", "", "not a country"},
		{"12", "DE", "", "wrong number of digits"},
	}
	for _, tt := range tests {
		t.Run(tt.in+"/"+tt.country, func(t *testing.T) {
			t.Parallel()
			got, err := clean.ApplyWith([]string{"trim", "phone"}, model.Text(tt.in), clean.Options{Country: tt.country})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.Str)
		})
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"Plain", "Alfreds Futterkiste", ""},
		{"Accents", "Société Générale – Zürich ✓", ""},
		{"TabNewline", "line one\n\tline two\r\n", ""},
		{"ReplacementCharacter", "a \uFFFD b", ""},
		{"ErrNUL", "Acme\x00 Ltd", `holds a NUL byte at byte 4`},
		{"ErrEscape", "\x1b[31mred", `U+001B at byte 0`},
		{"ErrDEL", "ab\x7f", `U+007F at byte 2`},
		{"ErrC1", "x\u0085y", `U+0085 at byte 1`},
		{"ErrInvalidUTF8", "ok \xff", `not UTF-8 at byte 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := clean.CheckText(tt.in)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "\x00", "the message escapes the value")
			require.NotContains(t, err.Error(), "\x1b")
		})
	}
}

// TestPhone_Northwind cleans the phone numbers of the 91 Northwind customers,
// each read in the customer's own country, as a first sync would. Before
// numbers were read with the record's country, every one of them (written
// without a +CC prefix) was refused; what is refused now are numbers whose
// length cannot be right for their country today (Northwind is 1990s data:
// France's 8-digit and Mexico City's 7-digit numbers).
func TestPhone_Northwind(t *testing.T) {
	t.Parallel()
	nw, err := northwind.Load()
	require.NoError(t, err)
	// Countries that changed the length of their numbers since (France 1996,
	// Mexico 2002, Portugal 1999, Argentina and Venezuela), and Belgium's one
	// mistyped number.
	renumbered := []string{"FR", "MX", "PT", "AR", "VE", "BE"}
	var refused []string
	for _, c := range nw.Customers {
		country, err := clean.Country(c.Country)
		require.NoError(t, err, "customer %s: country %q", c.ID, c.Country)
		if _, err := clean.ApplyWith([]string{"trim", "phone"}, model.Text(c.Phone), clean.Options{Country: country}); err != nil {
			require.Contains(t, err.Error(), "wrong number of digits", "customer %s", c.ID)
			require.Contains(t, renumbered, country, "customer %s: %q refused in a country whose numbering did not change", c.ID, c.Phone)
			refused = append(refused, fmt.Sprintf("%s %s %q: %v", c.ID, country, c.Phone, err))
		}
	}
	t.Logf("%d of %d Northwind phone numbers refused:\n%s", len(refused), len(nw.Customers), strings.Join(refused, "\n"))
}
