package salesforce

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// checkAssertion verifies a JWT bearer assertion as Salesforce documents it:
// RS256 signed with the connected app's certificate, iss the consumer key, sub
// the user name, aud the login URL (https://login.salesforce.com,
// https://test.salesforce.com or this server), exp at most three minutes
// ahead and not passed.
func (s *Server) checkAssertion(assertion, self string) error {
	if s.cfg.JWTKey == nil {
		return errors.New("user hasn't approved this consumer")
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errors.New("invalid assertion")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud any    `json:"aud"`
		Exp int64  `json:"exp"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return errors.New("invalid assertion")
	}
	if header.Alg != "RS256" {
		return errors.New("invalid assertion: algorithm must be RS256")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(s.cfg.JWTKey, crypto.SHA256, sum[:], sig) != nil {
		return errors.New("invalid assertion: signature")
	}
	if s.cfg.ClientID != "" && claims.Iss != s.cfg.ClientID {
		return errors.New("invalid client_id")
	}
	if claims.Sub == "" {
		return errors.New("user hasn't approved this consumer")
	}
	auds := []string{}
	switch a := claims.Aud.(type) {
	case string:
		auds = append(auds, a)
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	okAud := false
	for _, a := range auds {
		a = strings.TrimSuffix(a, "/")
		if a == "https://login.salesforce.com" || a == "https://test.salesforce.com" || a == self {
			okAud = true
		}
	}
	if !okAud {
		return errors.New("audience is invalid")
	}
	now := s.cfg.Now()
	exp := time.Unix(claims.Exp, 0)
	if !exp.After(now) || exp.After(now.Add(3*time.Minute+5*time.Second)) {
		return errors.New("expired authorization code")
	}
	return nil
}
