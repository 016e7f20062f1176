package odoo

import (
	"testing"

	"github.com/concord-sync/concord/internal/model"
)

func TestConn_RecordURL(t *testing.T) {
	t.Parallel()
	c := &Conn{baseURL: "https://odoo.example.com"}
	if got, want := c.RecordURL(model.Account, "42"), "https://odoo.example.com/web#id=42&model=res.partner&view_type=form"; got != want {
		t.Fatalf("RecordURL = %q, want %q", got, want)
	}
	if got := (&Conn{}).RecordURL(model.Account, "42"); got != "" {
		t.Fatalf("no URL without the server's, got %q", got)
	}
}
