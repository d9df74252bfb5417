package entra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// graphErrors maps every failed response to Graph's OData error, as
// msgraph-sdk-go's request builders do, so a failure keeps the status,
// code and message that classify reads.
var graphErrors = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// getBody sends a GET request built by a msgraph-sdk-go request builder
// through the Graph request adapter (authentication, middleware, retries,
// OData error mapping) and returns the response body: nil when Graph
// answered without one (a 204 or an empty 200), which no caller accepts.
//
// Bodies are decoded with encoding/json into the reader's own small
// structs rather than into msgraph-sdk-go's models, whose parse tree and
// per-object field maps cost several times the read itself.
func (r *Reader) getBody(ctx context.Context, info *abs.RequestInformation) ([]byte, error) {
	res, err := r.adapter.SendPrimitive(ctx, info, "[]byte", graphErrors)
	if err != nil {
		return nil, err
	}
	body, _ := res.([]byte)
	return body, nil
}

// notAPage opens the explanation of a page refused for its shape.
const notAPage = `Graph answered a page that is not a JSON object with a "value" array`

// decodePage decodes one page of a collection into page, which the caller
// has reset. Only a JSON object with a "value" array is a page: anything
// else, an empty body included, fails with ErrMalformedResponse, because
// taking it for an empty last page would make the rest of the collection
// look deleted. status is the page's HTTP status, for the message.
func decodePage[T any](body []byte, status int, page *collectionPage[T]) error {
	if len(body) == 0 {
		return malformed("%s: no body (HTTP %d)", notAPage, status)
	}
	if err := json.Unmarshal(body, page); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && strings.HasPrefix(typeErr.Field, "value.") {
			return malformed("Graph answered a page that cannot be decoded: %q holds a JSON %s of the wrong type", typeErr.Field, typeErr.Value)
		}
		return malformed("%s: %s", notAPage, jsonProblem(body, err))
	}
	if len(page.Value) > 0 {
		return nil
	}
	// A decoded slice cannot tell "value":[] from an absent or null
	// "value"; only an empty page pays for this second, small decode. A
	// wrapper type that noted the array would cost every page a second
	// scan of its items.
	var probe struct {
		Value json.RawMessage `json:"value"`
	}
	_ = json.Unmarshal(body, &probe) // the body decoded above
	switch {
	case firstByte(body) != '{':
		return malformed("%s: %s", notAPage, jsonProblem(body, nil))
	case probe.Value == nil:
		return malformed(`%s: the object has no "value"`, notAPage)
	case string(probe.Value) == "null":
		return malformed(`%s: "value" is null`, notAPage)
	}
	return nil
}

// jsonProblem says, in an admin's words, why a body is not a JSON object;
// err is what decoding it returned.
func jsonProblem(body []byte, err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return "no body"
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "the body is a JSON " + typeErr.Value
	case errors.As(err, &typeErr) && typeErr.Field == "value":
		return `"value" is a JSON ` + typeErr.Value
	case err != nil:
		return err.Error() // a syntax error, e.g. "unexpected end of JSON input"
	}
	return "the body is " + excerpt(body)
}

// firstByte is the first byte of body that is not JSON whitespace, or 0.
func firstByte(body []byte) byte {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 {
		return t[0]
	}
	return 0
}

// excerpt is the start of a body, short enough for an error message.
func excerpt(body []byte) string {
	const max = 60
	b := bytes.TrimSpace(body)
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// collectionPage is one page of a Graph collection, with only what the
// reader uses.
type collectionPage[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
	// DeltaLink ends a delta round.
	DeltaLink string `json:"@odata.deltaLink"`
}

// reset empties the page for the next decode, keeping the capacity of its
// value slice. The elements are zeroed because encoding/json decodes into
// the existing elements and leaves absent fields as they were.
func (p *collectionPage[T]) reset() {
	all := p.Value[:cap(p.Value)]
	clear(all)
	p.Value = all[:0]
	p.NextLink, p.DeltaLink = "", ""
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
	ID                string `json:"id"`
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
