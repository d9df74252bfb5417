package entra

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	jsonser "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

// sdkUserProperties read each supported property from msgraph-sdk-go's
// models, as the reader did before it decoded pages itself.
var sdkUserProperties = map[string]func(models.Userable) string{
	"displayName":       func(u models.Userable) string { return deref(u.GetDisplayName()) },
	"givenName":         func(u models.Userable) string { return deref(u.GetGivenName()) },
	"surname":           func(u models.Userable) string { return deref(u.GetSurname()) },
	"mail":              func(u models.Userable) string { return deref(u.GetMail()) },
	"userPrincipalName": func(u models.Userable) string { return deref(u.GetUserPrincipalName()) },
	"jobTitle":          func(u models.Userable) string { return deref(u.GetJobTitle()) },
	"department":        func(u models.Userable) string { return deref(u.GetDepartment()) },
	"officeLocation":    func(u models.Userable) string { return deref(u.GetOfficeLocation()) },
	"mobilePhone":       func(u models.Userable) string { return deref(u.GetMobilePhone()) },
	"businessPhones": func(u models.Userable) string {
		return strings.Join(u.GetBusinessPhones(), domain.BusinessPhonesSeparator)
	},
	"employeeId":               func(u models.Userable) string { return deref(u.GetEmployeeId()) },
	"employeeType":             func(u models.Userable) string { return deref(u.GetEmployeeType()) },
	"companyName":              func(u models.Userable) string { return deref(u.GetCompanyName()) },
	"country":                  func(u models.Userable) string { return deref(u.GetCountry()) },
	"city":                     func(u models.Userable) string { return deref(u.GetCity()) },
	"state":                    func(u models.Userable) string { return deref(u.GetState()) },
	"streetAddress":            func(u models.Userable) string { return deref(u.GetStreetAddress()) },
	"postalCode":               func(u models.Userable) string { return deref(u.GetPostalCode()) },
	"usageLocation":            func(u models.Userable) string { return deref(u.GetUsageLocation()) },
	"preferredLanguage":        func(u models.Userable) string { return deref(u.GetPreferredLanguage()) },
	"onPremisesSamAccountName": func(u models.Userable) string { return deref(u.GetOnPremisesSamAccountName()) },
	domain.ManagerProperty:     sdkManagerEmail,
}

// sdkManagerEmail is the manager's mail, else its userPrincipalName, read
// from a user or from a manager served without @odata.type.
func sdkManagerEmail(u models.Userable) string {
	m := u.GetManager()
	if m == nil {
		return ""
	}
	if mu, ok := m.(models.Userable); ok {
		if mail := deref(mu.GetMail()); mail != "" {
			return mail
		}
		return deref(mu.GetUserPrincipalName())
	}
	data := m.GetAdditionalData()
	if mail := anyString(data["mail"]); mail != "" {
		return mail
	}
	return anyString(data["userPrincipalName"])
}

func anyString(v any) string {
	if s, ok := v.(*string); ok {
		return deref(s)
	}
	return ""
}

// sdkDecodeUsers decodes a users page with msgraph-sdk-go's models.
func sdkDecodeUsers(t *testing.T, body []byte, props []string) (got []domain.SourceUser, nextLink string) {
	t.Helper()
	node, err := jsonser.NewJsonParseNode(body)
	if err != nil {
		t.Fatalf("SDK parse: %v", err)
	}
	v, err := node.GetObjectValue(models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatalf("SDK decode: %v", err)
	}
	page := v.(models.UserCollectionResponseable)
	for _, u := range page.GetValue() {
		su := domain.SourceUser{
			ID:                deref(u.GetId()),
			UserPrincipalName: deref(u.GetUserPrincipalName()),
			Mail:              deref(u.GetMail()),
			AccountEnabled:    u.GetAccountEnabled() == nil || *u.GetAccountEnabled(),
			Guest:             strings.EqualFold(deref(u.GetUserType()), "Guest"),
			Values:            make([]string, len(props)),
		}
		for i, p := range props {
			su.Values[i] = sdkUserProperties[p](u)
			if p == domain.ManagerProperty && u.GetManager() != nil {
				su.ManagerID = deref(u.GetManager().GetId())
			}
		}
		got = append(got, su)
	}
	return got, deref(page.GetOdataNextLink())
}

// decodeUsers decodes a users page as the reader does.
func decodeUsers(t *testing.T, body []byte, props []string) (got []domain.SourceUser, nextLink string) {
	t.Helper()
	plan, err := newUserPlan(props)
	if err != nil {
		t.Fatal(err)
	}
	var page collectionPage[userJSON]
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("decode: %v", err)
	}
	values := newInterner()
	for i := range page.Value {
		su, err := plan.convert(&page.Value[i], values)
		if err != nil {
			t.Fatalf("convert user %d: %v", i, err)
		}
		got = append(got, su)
	}
	return got, page.NextLink
}

// allProperties is a mapping of every supported property.
var allProperties = domain.SupportedUserProperties

func TestDecodeUsersMatchesSDK(t *testing.T) {
	tests := []struct {
		name string
		// users are the page's value items, joined into a page.
		users []string
		// want holds, per user, the expected values of some properties;
		// "enabled" and "guest" stand for AccountEnabled and Guest.
		want []map[string]string
	}{
		{
			name: "null mail and unset properties",
			users: []string{
				`{"id":"u1","userPrincipalName":"a@contoso.com","mail":null,"accountEnabled":true,"displayName":null,"businessPhones":[]}`,
				`{"id":"u2","userPrincipalName":"b@contoso.com"}`,
			},
			want: []map[string]string{
				{"mail": "", "displayName": "", "businessPhones": "", "enabled": "true"},
				{"mail": "", "userPrincipalName": "b@contoso.com", "enabled": "true"},
			},
		},
		{
			name: "unicode",
			users: []string{
				`{"id":"u1","displayName":"Zoë Ångström","surname":"李小龍","jobTitle":"Ingénieur 🛠","city":"Zürich","department":"\u00c9tudes","givenName":"\ud83d\ude00 smile","streetAddress":"שדרות רוטשילד 1"}`,
			},
			want: []map[string]string{
				{"displayName": "Zoë Ångström", "surname": "李小龍", "jobTitle": "Ingénieur 🛠", "department": "Études", "givenName": "😀 smile", "streetAddress": "שדרות רוטשילד 1"},
			},
		},
		{
			name: "escaped characters",
			users: []string{
				`{"id":"u1","displayName":"O\"Brien \\ Co","jobTitle":"line1\nline2\ttab","department":"a\/b","officeLocation":"nul\u0000bell\u0007","companyName":"sep\u2028par\u2029","employeeId":"<\u0026>"}`,
			},
			want: []map[string]string{
				{"displayName": `O"Brien \ Co`, "jobTitle": "line1\nline2\ttab", "department": "a/b", "officeLocation": "nul\x00bell\x07", "companyName": "sep\u2028par\u2029", "employeeId": "<&>"},
			},
		},
		{
			name: "invalid UTF-8 and lone surrogates",
			users: []string{
				"{\"id\":\"u1\",\"displayName\":\"bad\xff byte\",\"surname\":\"\\ud800 alone\"}",
			},
			want: []map[string]string{
				{"displayName": "bad\uFFFD byte", "surname": "\uFFFD alone"},
			},
		},
		{
			name: "businessPhones arrays",
			users: []string{
				`{"id":"u1","businessPhones":["+1 425 555 0100"]}`,
				`{"id":"u2","businessPhones":["+1 425 555 0100","+1 425 555 0101","+44 20 7946 0000"]}`,
				`{"id":"u3","businessPhones":null}`,
				`{"id":"u4","businessPhones":[]}`,
			},
			want: []map[string]string{
				{"businessPhones": "+1 425 555 0100"},
				{"businessPhones": "+1 425 555 0100, +1 425 555 0101, +44 20 7946 0000"},
				{"businessPhones": ""},
				{"businessPhones": ""},
			},
		},
		{
			name: "manager expansion",
			users: []string{
				`{"id":"u1","manager":{"@odata.type":"#microsoft.graph.user","id":"m1","mail":"boss@contoso.com","userPrincipalName":"boss@contoso.onmicrosoft.com"}}`,
				`{"id":"u2","manager":{"@odata.type":"#microsoft.graph.user","id":"m2","mail":null,"userPrincipalName":"nomail@contoso.onmicrosoft.com"}}`,
				`{"id":"u3","manager":{"id":"m3","mail":"untyped@contoso.com","userPrincipalName":"untyped@contoso.onmicrosoft.com"}}`,
				`{"id":"u4","manager":{"id":"m4","userPrincipalName":"untyped-nomail@contoso.onmicrosoft.com"}}`,
				`{"id":"u5","manager":null}`,
				`{"id":"u6"}`,
			},
			want: []map[string]string{
				{"manager": "boss@contoso.com"},
				{"manager": "nomail@contoso.onmicrosoft.com"},
				{"manager": "untyped@contoso.com"},
				{"manager": "untyped-nomail@contoso.onmicrosoft.com"},
				{"manager": ""},
				{"manager": ""},
			},
		},
		{
			name: "accountEnabled and userType",
			users: []string{
				`{"id":"u1","accountEnabled":true,"userType":"Member"}`,
				`{"id":"u2","accountEnabled":false,"userType":"Guest"}`,
				`{"id":"u3","userType":"guest"}`,
				`{"id":"u4","accountEnabled":null,"userType":null}`,
			},
			want: []map[string]string{
				{"enabled": "true", "guest": "false"},
				{"enabled": "false", "guest": "true"},
				{"enabled": "true", "guest": "true"},
				{"enabled": "true", "guest": "false"},
			},
		},
		{
			name: "annotations and unknown properties are ignored",
			users: []string{
				`{"@odata.type":"#microsoft.graph.user","@odata.etag":"W/\"1\"","id":"u1","mail":"x@contoso.com","identities":[{"signInType":"userPrincipalName","issuer":"contoso"}],"onPremisesExtensionAttributes":{"extensionAttribute1":"v"},"assignedLicenses":[],"ageGroup":null,"signInSessionsValidFromDateTime":"2024-01-01T00:00:00Z","extension_abc_costCentre":42}`,
			},
			want: []map[string]string{
				{"mail": "x@contoso.com"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const next = "https://graph.microsoft.com/v1.0/users?$skiptoken=X%27abc%27"
			body := []byte(`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users","value":[` +
				strings.Join(tc.users, ",") + `],"@odata.nextLink":"` + next + `"}`)

			got, gotNext := decodeUsers(t, body, allProperties)
			sdk, sdkNext := sdkDecodeUsers(t, body, allProperties)
			if !reflect.DeepEqual(got, sdk) {
				t.Errorf("decoded users differ from msgraph-sdk-go's:\n got %+v\nsdk %+v", got, sdk)
			}
			if gotNext != next || sdkNext != next {
				t.Errorf("next link = %q (SDK %q), want %q", gotNext, sdkNext, next)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("decoded %d users, want %d", len(got), len(tc.want))
			}
			s := &domain.Snapshot{UserProperties: allProperties}
			for i, want := range tc.want {
				u := &got[i]
				for prop, w := range want {
					var v string
					switch prop {
					case "enabled":
						v = boolText(u.AccountEnabled)
					case "guest":
						v = boolText(u.Guest)
					default:
						v = s.Value(u, prop)
					}
					if v != w {
						t.Errorf("user %s %s = %q, want %q", u.ID, prop, v, w)
					}
				}
			}
		})
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestDecodePage(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		want   string // "" when the page is accepted
	}{
		{name: "a page", body: `{"value":[{"id":"u1"}],"@odata.nextLink":"https://graph/next"}`},
		{name: "an empty last page", body: `{"@odata.context":"x","value":[]}`},
		{name: "an empty page with a next link", body: ` {"value": [ ], "@odata.nextLink":"https://graph/next"}`},
		{name: "no body", body: "", status: 200, want: "no body (HTTP 200)"},
		{name: "204", body: "", status: 204, want: "no body (HTTP 204)"},
		{name: "whitespace", body: " \r\n", want: `array: no body`},
		{name: "null", body: "null", want: "the body is null"},
		{name: "empty object", body: "{}", want: `the object has no "value"`},
		{name: "no value", body: `{"@odata.context":"x","@odata.nextLink":"https://graph/next"}`, want: `the object has no "value"`},
		{name: "value null", body: `{"value":null}`, want: `"value" is null`},
		{name: "value an object", body: `{"value":{"id":"u1"}}`, want: `"value" is a JSON object`},
		{name: "value a string", body: `{"value":"u1"}`, want: `"value" is a JSON string`},
		{name: "an array", body: `[{"id":"u1"}]`, want: "the body is a JSON array"},
		{name: "a number", body: `42`, want: "the body is a JSON number"},
		{name: "truncated", body: `{"value":[{"id":"u1","mail":"a@b`, want: "unexpected end of JSON input"},
		{name: "not JSON", body: `<html>502 Bad Gateway</html>`, want: "invalid character '<'"},
		{name: "string property as number", body: `{"value":[{"id":"u1","mail":42}]}`, want: `"value.mail" holds a JSON number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var page collectionPage[userJSON]
			page.reset()
			err := decodePage([]byte(tc.body), tc.status, &page)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("decodePage(%q) = %v, want a page", tc.body, err)
				}
				return
			}
			if !errors.Is(err, ErrMalformedResponse) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decodePage(%q) = %v, want ErrMalformedResponse saying %q", tc.body, err, tc.want)
			}
		})
	}
}

func TestUserWithoutIDIsRefused(t *testing.T) {
	plan, err := newUserPlan(allProperties)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.convert(&userJSON{UserPrincipalName: "a@contoso.com"}, newInterner()); err == nil {
		t.Error("converted a user without an id")
	}
}

func TestCollectionPageResetClearsReusedElements(t *testing.T) {
	var page collectionPage[userJSON]
	first := `{"value":[{"id":"u1","mail":"a@contoso.com","accountEnabled":false,"businessPhones":["1"],"manager":{"mail":"m@contoso.com"}},{"id":"u2"}],"@odata.nextLink":"https://graph/next"}`
	if err := json.Unmarshal([]byte(first), &page); err != nil {
		t.Fatal(err)
	}
	page.reset()
	if err := json.Unmarshal([]byte(`{"value":[{"id":"u3"}]}`), &page); err != nil {
		t.Fatal(err)
	}
	want := collectionPage[userJSON]{Value: []userJSON{{ID: "u3"}}}
	if !reflect.DeepEqual(page, want) {
		t.Errorf("page after reset and decode = %+v, want %+v", page, want)
	}
	if spare := page.Value[:cap(page.Value)]; len(spare) > 1 && !reflect.DeepEqual(spare[1], userJSON{}) {
		t.Errorf("spare element kept %+v", spare[1])
	}
}

// trickyValues gives the first users of a generated tenant values that are
// hard to decode, on every kind of property.
func trickyValues(t *fakeentra.Tenant) {
	u := t.Users
	u[0].Mail = nil
	u[0].DisplayName = `O"Brien \ Ørsted`
	u[0].JobTitle = "Head of Ünïcödé 🚀"
	u[1].GivenName = "李"
	u[1].Surname = "小龍"
	u[1].Department = "R&D <Europe>"
	u[1].BusinessPhones = []string{"+1 425 555 0100", "+1 425 555 0101", "+33 1 23 45 67 89"}
	u[2].BusinessPhones = nil
	u[2].OfficeLocation = "Bldg 7\nFloor 3\tWing \"B\""
	u[2].StreetAddress = "1 Rue de l'Église\u2028Annex"
	u[3].CompanyName = "Contoso\u0001Ltd"
	u[3].City = "São Paulo"
	u[3].PostalCode = "01000-000"
	u[4].Mail = nil
	u[5].ManagerID = u[4].ID // a manager without a mailbox
	u[6].ManagerID = u[0].ID // a manager without a mailbox, with a tricky name
	u[7].ManagerID = u[3].ID // a manager with a mailbox
	u[8].ManagerID = ""
	u[9].AccountEnabled = false
	u[9].UserType = "Guest"
	u[10].EmployeeType = "Contractor / Vendor"
	u[10].PreferredLanguage = "pt-BR"
	u[10].UsageLocation = "BR"
	u[10].OnPremisesSamAccountName = `DOMAIN\user`
	u[11].EmployeeID = "E-00\\42"
	u[11].MobilePhone = "+49 (0) 30 1234567"
	u[11].State = "Île-de-France"
	u[11].Country = "Österreich"
}

// TestReadDecodesGraphJSON decodes the fake's own JSON for tricky values two
// ways, as the reader does and with msgraph-sdk-go's models, and checks that
// a full Read yields the tenant's values for every supported property.
func TestReadDecodesGraphJSON(t *testing.T) {
	f := newFixture(t, 1200, 4, trickyValues)
	r := f.reader(t)
	ctx := context.Background()
	props := domain.UserProperties(mappingOf(allProperties))

	plan, err := newUserPlan(props)
	if err != nil {
		t.Fatal(err)
	}
	query := &users.UsersRequestBuilderGetQueryParameters{
		Select: plan.selectFields, Top: r.top(),
		Expand: []string{"manager($select=id,mail,userPrincipalName)"},
	}
	link := ""
	for page := 1; ; page++ {
		builder := r.users
		var config *users.UsersRequestBuilderGetRequestConfiguration
		if link == "" {
			config = &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: query}
		} else {
			builder = r.users.WithUrl(link)
		}
		info, err := builder.ToGetRequestInformation(ctx, config)
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.adapter.SendPrimitive(ctx, info, "[]byte", graphErrors)
		if err != nil {
			t.Fatalf("users page %d: %v", page, err)
		}
		body := res.([]byte)
		got, gotNext := decodeUsers(t, body, props)
		sdk, sdkNext := sdkDecodeUsers(t, body, props)
		if len(got) == 0 {
			t.Fatalf("users page %d is empty", page)
		}
		if !reflect.DeepEqual(got, sdk) || gotNext != sdkNext {
			t.Fatalf("users page %d decodes differently from msgraph-sdk-go", page)
		}
		if gotNext == "" {
			break
		}
		link = gotNext
	}

	snap, err := r.Read(ctx, domain.Options{Mapping: mappingOf(allProperties)})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	byID := map[string]*fakeentra.User{}
	for i := range f.want.Users {
		byID[f.want.Users[i].ID] = &f.want.Users[i]
	}
	if len(snap.Users) != len(f.want.Users) {
		t.Fatalf("read %d users, want %d", len(snap.Users), len(f.want.Users))
	}
	for i := range snap.Users {
		got := &snap.Users[i]
		want := byID[got.ID]
		if want == nil {
			t.Fatalf("user %s is not in the tenant", got.ID)
		}
		if got.Mail != mailOf(want) || got.UserPrincipalName != want.UserPrincipalName ||
			got.AccountEnabled != want.AccountEnabled || got.Guest != (want.UserType == "Guest") {
			t.Fatalf("user %s identity = %+v, want %+v", got.ID, got, want)
		}
		for j, p := range snap.UserProperties {
			if w := expectedValue(want, p, byID); got.Values[j] != w {
				t.Errorf("user %s %s = %q, want %q", got.ID, p, got.Values[j], w)
			}
		}
	}
	edge := f.want.Users
	if v := snap.Value(snapUser(t, snap, edge[6].ID), domain.ManagerProperty); v != edge[0].UserPrincipalName {
		t.Errorf("manager without mailbox = %q, want its UPN %q", v, edge[0].UserPrincipalName)
	}
	if v := snap.Value(snapUser(t, snap, edge[0].ID), "displayName"); v != `O"Brien \ Ørsted` {
		t.Errorf("escaped display name = %q", v)
	}
}

// mappingOf maps each property to an attribute of the same name.
func mappingOf(props []string) []domain.Mapping {
	m := make([]domain.Mapping, len(props))
	for i, p := range props {
		m[i] = domain.Mapping{Attribute: p, Source: p}
	}
	return m
}
