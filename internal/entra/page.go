package entra

import (
	"context"
	"encoding/json"
	"fmt"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// graphErrors maps every failed response to Graph's OData error, as
// msgraph-sdk-go's request builders do, so a failure keeps the status,
// code and message that classify reads.
var graphErrors = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// getJSON sends a GET request built by a msgraph-sdk-go request builder
// through the Graph request adapter (authentication, middleware, retries,
// OData error mapping) and decodes the response body into v. It reports
// false when Graph answered without a body.
//
// The body is decoded with encoding/json into the reader's own small
// structs rather than into msgraph-sdk-go's models, whose parse tree and
// per-object field maps cost several times the read itself.
func (r *Reader) getJSON(ctx context.Context, info *abs.RequestInformation, v any) (bool, error) {
	res, err := r.adapter.SendPrimitive(ctx, info, "[]byte", graphErrors)
	if err != nil {
		return false, err
	}
	body, _ := res.([]byte)
	if len(body) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, fmt.Errorf("decode the response: %w", err)
	}
	return true, nil
}

// collectionPage is one page of a Graph collection, with only what the
// reader uses.
type collectionPage[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// reset empties the page for the next decode, keeping the capacity of its
// value slice. The elements are zeroed because encoding/json decodes into
// the existing elements and leaves absent fields as they were.
func (p *collectionPage[T]) reset() {
	all := p.Value[:cap(p.Value)]
	clear(all)
	p.Value = all[:0]
	p.NextLink = ""
}

// userJSON is a Graph user with every property a mapping may name. An
// absent or null string property decodes as "", as the SDK's models read
// it.
type userJSON struct {
	ID                       string   `json:"id"`
	UserPrincipalName        string   `json:"userPrincipalName"`
	Mail                     string   `json:"mail"`
	AccountEnabled           *bool    `json:"accountEnabled"`
	UserType                 string   `json:"userType"`
	DisplayName              string   `json:"displayName"`
	GivenName                string   `json:"givenName"`
	Surname                  string   `json:"surname"`
	JobTitle                 string   `json:"jobTitle"`
	Department               string   `json:"department"`
	OfficeLocation           string   `json:"officeLocation"`
	MobilePhone              string   `json:"mobilePhone"`
	BusinessPhones           []string `json:"businessPhones"`
	EmployeeID               string   `json:"employeeId"`
	EmployeeType             string   `json:"employeeType"`
	CompanyName              string   `json:"companyName"`
	Country                  string   `json:"country"`
	City                     string   `json:"city"`
	State                    string   `json:"state"`
	StreetAddress            string   `json:"streetAddress"`
	PostalCode               string   `json:"postalCode"`
	UsageLocation            string   `json:"usageLocation"`
	PreferredLanguage        string   `json:"preferredLanguage"`
	OnPremisesSamAccountName string   `json:"onPremisesSamAccountName"`
	// Manager is the expanded manager; zero when there is none.
	Manager managerJSON `json:"manager"`
}

// managerJSON is the part of an expanded manager the reader uses. A manager
// may be a user or an organisational contact; both have these properties.
type managerJSON struct {
	Mail              string `json:"mail"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// groupJSON is a Graph group with the properties the reader selects.
type groupJSON struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
	Mail        string `json:"mail"`
}

// memberJSON is one transitive member read with $select=id.
type memberJSON struct {
	ID string `json:"id"`
}
