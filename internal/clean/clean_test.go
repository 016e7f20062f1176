package clean_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/clean"
	"github.com/concord-sync/concord/internal/model"
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
		{"EmailLowersDomain", []string{"trim", "email"}, model.Text(" Maria@Alfreds.DE "), model.Text("Maria@alfreds.de"), ""},
		{"EmailRefused", []string{"email"}, model.Text("maria at alfreds"), model.Value{}, "email"},
		{"EmailNoDot", []string{"email"}, model.Text("maria@localhost"), model.Value{}, "no valid domain"},
		{"PhoneE164", []string{"phone"}, model.Text("+49 (030) 0074321"), model.Text("+490300074321"), ""},
		{"Phone00", []string{"phone"}, model.Text("0049 30 0074321"), model.Text("+49300074321"), ""},
		{"PhoneNoPrefix", []string{"phone"}, model.Text("030-0074321"), model.Value{}, "international prefix"},
		{"PhoneLetters", []string{"phone"}, model.Text("+49 30 CALLME"), model.Value{}, "E.164"},
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
