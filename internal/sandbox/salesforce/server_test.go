package salesforce_test

import (
	"bytes"
	"crypto"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/northwind"
	"github.com/concord-sync/concord/internal/sandbox/salesforce"
)

const v = "/services/data/v62.0"

type org struct {
	t     *testing.T
	srv   *salesforce.Server
	url   string
	token string
}

func newOrg(t *testing.T, cfg salesforce.Config) *org {
	t.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = "cid", "secret"
	}
	srv := salesforce.New(cfg)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	o := &org{t: t, srv: srv, url: ts.URL}
	res, body := o.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"secret"}})
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	require.Equal(t, ts.URL, tok.InstanceURL)
	o.token = tok.AccessToken
	return o
}

func (o *org) form(f url.Values) (*http.Response, string) {
	res, err := http.PostForm(o.url+"/services/oauth2/token", f)
	require.NoError(o.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// do sends a request and decodes the answer into out (when not nil).
func (o *org) do(method, path string, body any, out any, hdr ...string) *http.Response {
	o.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(o.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, o.url+path, rd)
	require.NoError(o.t, err)
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(o.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		require.NoError(o.t, json.Unmarshal(b, out), string(b))
	}
	return res
}

type sfErr struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

func TestServer_Token(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(crand.Reader, 2048)
	require.NoError(t, err)
	o := newOrg(t, salesforce.Config{ClientID: "cid", ClientSecret: "secret", JWTKey: &key.PublicKey})

	t.Run("ErrBadSecret", func(t *testing.T) {
		res, body := o.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"nope"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		require.Contains(t, body, `"error":"invalid_client"`)
	})
	assertion := func(k *rsa.PrivateKey, iss, aud string, exp time.Time) string {
		enc := base64.RawURLEncoding
		h := enc.EncodeToString([]byte(`{"alg":"RS256"}`))
		c, _ := json.Marshal(map[string]any{"iss": iss, "sub": "user@example.com", "aud": aud, "exp": exp.Unix()})
		in := h + "." + enc.EncodeToString(c)
		sum := sha256.Sum256([]byte(in))
		sig, err := rsa.SignPKCS1v15(crand.Reader, k, crypto.SHA256, sum[:])
		require.NoError(t, err)
		return in + "." + enc.EncodeToString(sig)
	}
	jwt := func(a string) (*http.Response, string) {
		return o.form(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}})
	}
	t.Run("JWTBearer", func(t *testing.T) {
		res, body := jwt(assertion(key, "cid", "https://login.salesforce.com", time.Now().Add(2*time.Minute)))
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		require.Contains(t, body, `"access_token"`)
	})
	t.Run("ErrJWTForged", func(t *testing.T) {
		other, err := rsa.GenerateKey(crand.Reader, 2048)
		require.NoError(t, err)
		res, body := jwt(assertion(other, "cid", "https://login.salesforce.com", time.Now().Add(time.Minute)))
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Contains(t, body, `"invalid_grant"`)
		res, _ = jwt(assertion(key, "cid", "https://login.salesforce.com", time.Now().Add(-time.Minute)))
		require.Equal(t, http.StatusBadRequest, res.StatusCode, "expired assertion")
		res, _ = jwt(assertion(key, "cid", "https://evil.example", time.Now().Add(time.Minute)))
		require.Equal(t, http.StatusBadRequest, res.StatusCode, "wrong audience")
	})
	t.Run("ErrNoToken", func(t *testing.T) {
		saved := o.token
		o.token = "bogus"
		var errs []sfErr
		res := o.do("GET", v+"/limits", nil, &errs)
		o.token = saved
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		require.Equal(t, "INVALID_SESSION_ID", errs[0].ErrorCode)
	})
}

func TestServer_CRUD(t *testing.T) {
	t.Parallel()
	o := newOrg(t, salesforce.Config{})
	var created struct {
		ID      string `json:"id"`
		Success bool   `json:"success"`
	}
	res := o.do("POST", v+"/sobjects/Account/", map[string]any{"Name": "Acme", "BillingCity": "Lyon"}, &created)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	require.True(t, created.Success)
	require.Len(t, created.ID, 18)
	require.True(t, strings.HasPrefix(created.ID, "001"))

	var acc map[string]any
	res = o.do("GET", v+"/sobjects/Account/"+created.ID+"?fields=Name,BillingCity", nil, &acc)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "Acme", acc["Name"])
	require.Equal(t, "Account", acc["attributes"].(map[string]any)["type"])
	require.Regexp(t, `^api-usage=\d+/15000$`, res.Header.Get("Sforce-Limit-Info"))

	res = o.do("PATCH", v+"/sobjects/Account/"+created.ID, map[string]any{"BillingCity": "Paris"}, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	o.do("GET", v+"/sobjects/Account/"+created.ID, nil, &acc)
	require.Equal(t, "Paris", acc["BillingCity"])
	require.Equal(t, "Acme", acc["Name"], "a PATCH changes only the fields it names")

	t.Run("ErrValidation", func(t *testing.T) {
		cases := []struct {
			body  map[string]any
			code  string
			field string
		}{
			{map[string]any{"BillingCity": "Lyon"}, "REQUIRED_FIELD_MISSING", "Name"},
			{map[string]any{"Name": "x", "Nope__c": "y"}, "INVALID_FIELD", "Nope__c"},
			{map[string]any{"Name": strings.Repeat("x", 256)}, "STRING_TOO_LONG", "Name"},
			{map[string]any{"Name": "x", "IsDeleted": true}, "INVALID_FIELD_FOR_INSERT_UPDATE", "IsDeleted"},
		}
		for _, c := range cases {
			var errs []sfErr
			res := o.do("POST", v+"/sobjects/Account/", c.body, &errs)
			require.Equal(t, http.StatusBadRequest, res.StatusCode)
			require.Equal(t, c.code, errs[0].ErrorCode)
			require.Equal(t, []string{c.field}, errs[0].Fields)
			require.NotEmpty(t, errs[0].Message)
		}
		var errs []sfErr
		o.do("POST", v+"/sobjects/Contact/", map[string]any{"LastName": "x", "Email": "not-an-email"}, &errs)
		require.Equal(t, "INVALID_EMAIL_ADDRESS", errs[0].ErrorCode)
	})

	res = o.do("DELETE", v+"/sobjects/Account/"+created.ID, nil, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res = o.do("GET", v+"/sobjects/Account/"+created.ID, nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

func defineExternalID(t *testing.T, o *org, obj string, unique bool) {
	t.Helper()
	res := o.do("POST", v+"/tooling/sobjects/CustomField", map[string]any{
		"FullName": obj + ".Concord_Id__c",
		"Metadata": map[string]any{"label": "Concord Id", "type": "Text", "length": 64, "externalId": true, "unique": unique},
	}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode)
}

func TestServer_Upsert(t *testing.T) {
	t.Parallel()
	o := newOrg(t, salesforce.Config{})
	defineExternalID(t, o, "Account", false)

	var r struct {
		ID      string `json:"id"`
		Created bool   `json:"created"`
	}
	res := o.do("PATCH", v+"/sobjects/Account/Concord_Id__c/k1", map[string]any{"Name": "One"}, &r)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	require.True(t, r.Created)
	first := r.ID
	res = o.do("PATCH", v+"/sobjects/Account/Concord_Id__c/k1", map[string]any{"Name": "One again"}, &r)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.False(t, r.Created)
	require.Equal(t, first, r.ID, "an upsert of the same key updates")

	// A second record with the same key (the field is not unique): 300.
	o.do("POST", v+"/sobjects/Account/", map[string]any{"Name": "Dup", "Concord_Id__c": "k1"}, nil)
	var urls []string
	res = o.do("PATCH", v+"/sobjects/Account/Concord_Id__c/k1", map[string]any{"Name": "x"}, &urls)
	require.Equal(t, http.StatusMultipleChoices, res.StatusCode)
	require.Len(t, urls, 2)

	t.Run("ErrDuplicateValue", func(t *testing.T) {
		o := newOrg(t, salesforce.Config{})
		defineExternalID(t, o, "Account", true)
		o.do("POST", v+"/sobjects/Account/", map[string]any{"Name": "A", "Concord_Id__c": "k"}, nil)
		var errs []sfErr
		res := o.do("POST", v+"/sobjects/Account/", map[string]any{"Name": "B", "Concord_Id__c": "k"}, &errs)
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Equal(t, "DUPLICATE_VALUE", errs[0].ErrorCode)
	})
}

type collResult struct {
	ID      string `json:"id"`
	Success bool   `json:"success"`
	Created *bool  `json:"created"`
	Errors  []struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	} `json:"errors"`
}

func TestServer_Collections(t *testing.T) {
	t.Parallel()
	o := newOrg(t, salesforce.Config{})
	defineExternalID(t, o, "Account", true)
	rec := func(fields map[string]any) map[string]any {
		fields["attributes"] = map[string]any{"type": "Account"}
		return fields
	}
	t.Run("PartialFailure", func(t *testing.T) {
		var out []collResult
		res := o.do("PATCH", v+"/composite/sobjects/Account/Concord_Id__c", map[string]any{"allOrNone": false, "records": []any{
			rec(map[string]any{"Name": "A", "Concord_Id__c": "a"}),
			rec(map[string]any{"Concord_Id__c": "b", "BillingCity": "x"}),
			rec(map[string]any{"Name": "C", "Concord_Id__c": "c"}),
		}}, &out)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Len(t, out, 3)
		require.True(t, out[0].Success)
		require.True(t, *out[0].Created)
		require.False(t, out[1].Success)
		require.Equal(t, "REQUIRED_FIELD_MISSING", out[1].Errors[0].StatusCode)
		require.Equal(t, []string{"Name"}, out[1].Errors[0].Fields)
		require.True(t, out[2].Success)

		// Again: the same keys update.
		res = o.do("PATCH", v+"/composite/sobjects/Account/Concord_Id__c", map[string]any{"records": []any{
			rec(map[string]any{"Name": "A2", "Concord_Id__c": "a"}),
		}}, &out)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.False(t, *out[0].Created)
	})
	t.Run("AllOrNone", func(t *testing.T) {
		var out []collResult
		o.do("POST", v+"/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
			rec(map[string]any{"Name": "Rolled back"}),
			rec(map[string]any{"BillingCity": "no name"}),
		}}, &out)
		require.False(t, out[0].Success)
		require.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", out[0].Errors[0].StatusCode)
		var q struct {
			TotalSize int `json:"totalSize"`
		}
		o.do("GET", v+"/query?q="+url.QueryEscape("SELECT Id FROM Account WHERE Name = 'Rolled back'"), nil, &q)
		require.Zero(t, q.TotalSize)
	})
	t.Run("ErrTooMany", func(t *testing.T) {
		recs := make([]any, salesforce.MaxCollection+1)
		for i := range recs {
			recs[i] = rec(map[string]any{"Name": fmt.Sprint(i)})
		}
		var errs []sfErr
		res := o.do("POST", v+"/composite/sobjects", map[string]any{"records": recs}, &errs)
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Equal(t, "EXCEEDED_ID_LIMIT", errs[0].ErrorCode)
	})
}

func TestServer_QueryMore(t *testing.T) {
	t.Parallel()
	o := newOrg(t, salesforce.Config{})
	const n = 450
	for start := 0; start < n; start += salesforce.MaxCollection {
		var recs []any
		for i := start; i < min(n, start+salesforce.MaxCollection); i++ {
			recs = append(recs, map[string]any{"attributes": map[string]any{"type": "Account"}, "Name": fmt.Sprintf("Acc %03d", i)})
		}
		var out []collResult
		o.do("POST", v+"/composite/sobjects", map[string]any{"records": recs}, &out)
		for _, r := range out {
			require.True(t, r.Success)
		}
	}
	type page struct {
		TotalSize      int              `json:"totalSize"`
		Done           bool             `json:"done"`
		NextRecordsURL string           `json:"nextRecordsUrl"`
		Records        []map[string]any `json:"records"`
	}
	var p page
	o.do("GET", v+"/query?q="+url.QueryEscape("SELECT Id, Name, SystemModstamp FROM Account ORDER BY SystemModstamp, Id"), nil, &p, "Sforce-Query-Options", "batchSize=200")
	require.Equal(t, n, p.TotalSize)
	var names []string
	pages := 1
	for {
		for _, r := range p.Records {
			names = append(names, r["Name"].(string))
		}
		if p.Done {
			break
		}
		require.NotEmpty(t, p.NextRecordsURL)
		next := p.NextRecordsURL
		p = page{}
		o.do("GET", next, nil, &p)
		pages++
	}
	require.Equal(t, 3, pages)
	require.Len(t, names, n)
	require.Equal(t, "Acc 000", names[0])
	require.Equal(t, "Acc 449", names[n-1])

	t.Run("Keyset", func(t *testing.T) {
		var all page
		o.do("GET", v+"/query?q="+url.QueryEscape("SELECT Id, SystemModstamp FROM Account ORDER BY SystemModstamp, Id LIMIT 10"), nil, &all)
		require.Len(t, all.Records, 10)
		at, id := all.Records[4]["SystemModstamp"].(string), all.Records[4]["Id"].(string)
		var rest page
		soql := fmt.Sprintf("SELECT Id FROM Account WHERE SystemModstamp > %s OR (SystemModstamp = %s AND Id > '%s') ORDER BY SystemModstamp, Id LIMIT 5",
			at, at, id)
		res := o.do("GET", v+"/query?q="+url.QueryEscape(soql), nil, &rest)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Len(t, rest.Records, 5)
		require.Equal(t, all.Records[5]["Id"], rest.Records[0]["Id"])
	})
	t.Run("ErrInvalidField", func(t *testing.T) {
		var errs []sfErr
		res := o.do("GET", v+"/query?q="+url.QueryEscape("SELECT Id, Nope__c FROM Account"), nil, &errs)
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Equal(t, "INVALID_FIELD", errs[0].ErrorCode)
		res = o.do("GET", v+"/query?q="+url.QueryEscape("SELECT Id FROM Account WHERE"), nil, &errs)
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Equal(t, "MALFORMED_QUERY", errs[0].ErrorCode)
	})
}

func TestServer_Opportunity(t *testing.T) {
	t.Parallel()
	o := newOrg(t, salesforce.Config{})
	var r struct{ ID string }
	o.do("POST", v+"/sobjects/Product2/", map[string]any{"Name": "Chai", "ProductCode": "NW-001", "IsActive": true}, &r)
	product := r.ID
	o.do("POST", v+"/sobjects/PricebookEntry/", map[string]any{"Pricebook2Id": o.srv.StandardPricebookID(), "Product2Id": product, "UnitPrice": 18, "IsActive": true}, &r)
	entry := r.ID
	res := o.do("POST", v+"/sobjects/Opportunity/", map[string]any{"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-01-31"}, &r)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	opp := r.ID
	res = o.do("POST", v+"/sobjects/OpportunityLineItem/", map[string]any{"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 3, "UnitPrice": 17.5, "Discount": 10}, &r)
	require.Equal(t, http.StatusCreated, res.StatusCode)

	var got map[string]any
	o.do("GET", v+"/sobjects/Opportunity/"+opp, nil, &got)
	require.Equal(t, false, got["IsWon"])
	require.InDelta(t, 47.25, got["Amount"], 1e-9, "amount is the sum of the lines")
	require.Equal(t, o.srv.StandardPricebookID(), got["Pricebook2Id"], "the first line sets the price book")

	o.do("PATCH", v+"/sobjects/Opportunity/"+opp, map[string]any{"StageName": "Closed Won"}, nil)
	o.do("GET", v+"/sobjects/Opportunity/"+opp, nil, &got)
	require.Equal(t, true, got["IsWon"])
	require.Equal(t, true, got["IsClosed"])

	var errs []sfErr
	o.do("PATCH", v+"/sobjects/Opportunity/"+opp, map[string]any{"StageName": "Nope"}, &errs)
	require.Equal(t, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", errs[0].ErrorCode)

	var q struct {
		Records []map[string]any `json:"records"`
	}
	o.do("GET", v+"/query?q="+url.QueryEscape("SELECT MasterLabel, IsWon FROM OpportunityStage WHERE IsWon = true"), nil, &q)
	require.Len(t, q.Records, 1)
	require.Equal(t, "Closed Won", q.Records[0]["MasterLabel"])
}

func TestServer_Replication(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	o := newOrg(t, salesforce.Config{Now: clock})
	var r struct{ ID string }
	o.do("POST", v+"/sobjects/Account/", map[string]any{"Name": "Kept"}, &r)
	kept := r.ID
	o.do("POST", v+"/sobjects/Account/", map[string]any{"Name": "Gone"}, &r)
	gone := r.ID
	o.do("DELETE", v+"/sobjects/Account/"+gone, nil, nil)
	now = now.Add(2 * time.Minute)
	q := "?start=" + url.QueryEscape("2026-03-01T09:59:00+00:00") + "&end=" + url.QueryEscape("2026-03-01T10:02:00+00:00")
	var upd struct {
		IDs []string `json:"ids"`
	}
	o.do("GET", v+"/sobjects/Account/updated/"+q, nil, &upd)
	require.Equal(t, []string{kept}, upd.IDs)
	var del struct {
		DeletedRecords []struct {
			ID string `json:"id"`
		} `json:"deletedRecords"`
	}
	o.do("GET", v+"/sobjects/Account/deleted/"+q, nil, &del)
	require.Len(t, del.DeletedRecords, 1)
	require.Equal(t, gone, del.DeletedRecords[0].ID)

	var all struct {
		Records []map[string]any `json:"records"`
	}
	o.do("GET", v+"/queryAll?q="+url.QueryEscape("SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true"), nil, &all)
	require.Len(t, all.Records, 1)
	require.Equal(t, gone, all.Records[0]["Id"])
}

func TestServer_RequestLimit(t *testing.T) {
	t.Parallel()
	o := newOrg(t, salesforce.Config{DailyLimit: 3, LimitWindow: time.Hour})
	for range 3 {
		res := o.do("GET", v+"/limits", nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	var errs []sfErr
	res := o.do("GET", v+"/limits", nil, &errs)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Equal(t, "REQUEST_LIMIT_EXCEEDED", errs[0].ErrorCode)
	require.Equal(t, "api-usage=3/3", res.Header.Get("Sforce-Limit-Info"))
	require.Equal(t, 1, o.srv.Counts().LimitRefused)
}

func TestServer_Seed(t *testing.T) {
	t.Parallel()
	data, err := northwind.Load()
	require.NoError(t, err)
	o := newOrg(t, salesforce.Config{})
	require.NoError(t, o.srv.Seed(data, 40, rand.New(rand.NewPCG(1, 1))))
	var q struct {
		TotalSize int `json:"totalSize"`
	}
	o.do("GET", v+"/query?q="+url.QueryEscape("SELECT COUNT() FROM Account"), nil, &q)
	require.Equal(t, len(data.Customers), q.TotalSize)
	o.do("GET", v+"/query?q="+url.QueryEscape("SELECT COUNT() FROM Product2 WHERE IsActive = true"), nil, &q)
	require.Equal(t, len(data.Products), q.TotalSize)
	o.do("GET", v+"/query?q="+url.QueryEscape("SELECT COUNT() FROM Opportunity"), nil, &q)
	require.Equal(t, 40, q.TotalSize)
	o.do("GET", v+"/query?q="+url.QueryEscape("SELECT COUNT() FROM OpportunityLineItem"), nil, &q)
	require.Greater(t, q.TotalSize, 40)
}
