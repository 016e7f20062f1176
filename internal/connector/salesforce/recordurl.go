package salesforce

import (
	"net/url"

	"github.com/concord-sync/concord/internal/model"
)

// RecordURL returns the record's page in Lightning Experience:
// <instance_url>/lightning/r/<sObject>/<id>/view ("" before the connector
// has signed in, or for an entity it does not map).
func (c *Conn) RecordURL(e model.Entity, id string) string {
	o, ok := c.cfg.entities[e]
	inst := c.api.Instance()
	if !ok || inst == "" || id == "" {
		return ""
	}
	return inst + "/lightning/r/" + o.name + "/" + url.PathEscape(id) + "/view"
}
