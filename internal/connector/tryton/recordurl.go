package tryton

import (
	"net/url"

	"github.com/concord-sync/concord/internal/model"
)

// RecordURL returns the record's page in Tryton's web client (sao), served
// by the same trytond: <url>/#<database>/model/<model>/<id>.
func (c *Conn) RecordURL(e model.Entity, id string) string {
	d, ok := entities[e]
	if !ok || c.baseURL == "" || id == "" {
		return ""
	}
	return c.baseURL + "/#" + url.PathEscape(c.database) + "/model/" + d.model + "/" + url.PathEscape(id)
}
