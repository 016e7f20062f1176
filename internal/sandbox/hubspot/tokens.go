package hubspot

import (
	"net/http"
	"slices"
)

// DefaultScopes are the scopes the sandbox's token has when Config.Scopes is
// nil: read and write of every object type it serves, and schema reads.
var DefaultScopes = []string{
	"crm.objects.companies.read", "crm.objects.companies.write",
	"crm.objects.contacts.read", "crm.objects.contacts.write",
	"crm.objects.deals.read", "crm.objects.deals.write",
	"crm.objects.line_items.read", "crm.objects.line_items.write",
	"crm.objects.products.read", "crm.objects.products.write",
	"crm.schemas.companies.read", "crm.schemas.contacts.read", "crm.schemas.deals.read",
	"e-commerce",
}

// SetScopes replaces the scopes the access-token-info endpoint reports for the
// token (nil: DefaultScopes). The sandbox does not enforce them.
func (s *Server) SetScopes(scopes []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = slices.Clone(scopes)
}

// handleTokenInfo answers POST /oauth/v2/private-apps/get/access-token-info:
// the scopes of the private-app token given as tokenKey. Like HubSpot's, it
// needs no Authorization header.
func (s *Server) handleTokenInfo(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TokenKey string `json:"tokenKey"`
	}
	if e := decodeBody(r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.TokenKey == "" || (s.cfg.Token != "" && body.TokenKey != s.cfg.Token) {
		writeError(w, newError(http.StatusUnauthorized, CategoryAuthentication, "The access token provided is invalid or has been revoked."))
		return
	}
	s.mu.Lock()
	scopes := s.scopes
	s.mu.Unlock()
	if scopes == nil {
		scopes = DefaultScopes
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"userId": 1, "hubId": s.cfg.PortalID, "appId": s.cfg.Webhook.AppID, "scopes": scopes,
	})
}

// handleListSchemas answers GET /crm/v3/schemas: the sandbox has no custom
// object types.
func (s *Server) handleListSchemas(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"results": []any{}})
}
