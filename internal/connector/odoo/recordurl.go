package odoo

import (
	"net/url"

	"github.com/concord-sync/concord/internal/model"
)

// RecordURL returns the record's form in Odoo's web client:
// <url>/web#id=<id>&model=<model>&view_type=form.
func (c *Conn) RecordURL(e model.Entity, id string) string {
	d, ok := entities[e]
	if !ok || c.baseURL == "" || id == "" {
		return ""
	}
	q := url.Values{"id": {id}, "model": {d.model}, "view_type": {"form"}}
	return c.baseURL + "/web#" + q.Encode()
}
