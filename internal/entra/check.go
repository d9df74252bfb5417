package entra

import (
	"context"
	"errors"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// Names of the checks Test runs, in order.
const (
	CheckToken     = "token"
	CheckReadUser  = "read_user"
	CheckReadGroup = "read_group"
)

// Check is the outcome of one connection check; Message says what works or
// what an admin must fix.
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// Test checks the connection: it gets a token, then reads one user and one
// group. Checks that need a token are not run without one.
func (r *Reader) Test(ctx context.Context) []Check {
	checks := []Check{{Name: CheckToken}, {Name: CheckReadUser}, {Name: CheckReadGroup}}
	if _, err := r.tokens.GetToken(ctx, r.tokens.requestOptions()); err != nil {
		checks[0].Message = explain(ctx, err, nil, "")
		for i := 1; i < len(checks); i++ {
			checks[i].Message = "not run: no access token"
		}
		return checks
	}
	checks[0] = Check{Name: CheckToken, OK: true, Message: "got an access token for " + r.graphURL}

	top := int32(1)
	trace := &requestTrace{}
	page, err := r.users.Get(withTrace(ctx, trace), &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id"}, Top: &top},
	})
	if err != nil {
		checks[1].Message = explain(ctx, err, trace, permUsers)
	} else {
		n := 0
		if page != nil {
			n = len(page.GetValue())
		}
		checks[1] = Check{Name: CheckReadUser, OK: true, Message: countMessage(n, "user")}
	}

	trace = &requestTrace{}
	groupPage, err := r.groups.Get(withTrace(ctx, trace), &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Select: []string{"id"}, Top: &top},
	})
	if err != nil {
		checks[2].Message = explain(ctx, err, trace, permGroups)
	} else {
		n := 0
		if groupPage != nil {
			n = len(groupPage.GetValue())
		}
		checks[2] = Check{Name: CheckReadGroup, OK: true, Message: countMessage(n, "group")}
	}
	return checks
}

// explain is the admin-readable message of a failed check.
func explain(ctx context.Context, err error, t *requestTrace, permission string) string {
	classified := classify(ctx, err, t, permission)
	var re *readError
	if errors.As(classified, &re) {
		return re.Message
	}
	return classified.Error()
}

func countMessage(n int, what string) string {
	if n == 0 {
		return fmt.Sprintf("permission works; the directory has no %ss", what)
	}
	return fmt.Sprintf("read a %s", what)
}
