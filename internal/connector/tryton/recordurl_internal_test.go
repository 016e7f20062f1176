package tryton

import (
	"testing"

	"github.com/concord-sync/concord/internal/model"
)

func TestConn_RecordURL(t *testing.T) {
	t.Parallel()
	c := &Conn{baseURL: "http://erp.example.com:8000", database: "acme prod"}
	if got, want := c.RecordURL(model.Account, "42"), "http://erp.example.com:8000/#acme%20prod/model/party.party/42"; got != want {
		t.Fatalf("RecordURL = %q, want %q", got, want)
	}
	if got := c.RecordURL(model.Entity("planet"), "1"); got != "" {
		t.Fatalf("an entity Tryton does not keep has no page, got %q", got)
	}
}
