package entra

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"dirsync/internal/domain"
)

// upnInitials are the characters a userPrincipalName may begin with: its
// local part takes A-Z, a-z, 0-9 and ' . - _ ! # ^ ~ (Microsoft's
// "username contains a special character" article for Microsoft 365 and
// Entra ID). Graph's startswith compares case-insensitively, so one
// partition per letter covers both cases.
var upnInitials = []string{
	"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
	"n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
	"'", ".", "-", "_", "!", "#", "^", "~",
}

// errPartitionsMissed says the partitions did not add up to the tenant: a
// user in two of them, or their sum short of Graph's count. The reader
// then reads the users again in one sequential listing.
var errPartitionsMissed = errors.New("entra: the userPrincipalName partitions do not cover the users exactly")

// readUsers reads every user: in partitions by the first character of the
// userPrincipalName, UserPartitionConcurrency at a time, falling back to
// one sequential listing when the partitions do not add up to the tenant.
// Either way the users come back sorted by id, and the read is complete or
// fails.
func (r *Reader) readUsers(ctx context.Context, plan *userPlan) ([]domain.SourceUser, error) {
	if r.cfg.SequentialUsers {
		return r.readUsersSequentially(ctx, plan)
	}
	out, err := r.readUserPartitions(ctx, plan)
	if errors.Is(err, errPartitionsMissed) {
		return r.readUsersSequentially(ctx, plan)
	}
	return out, err
}

// userQuery is the users request of a plan, filtered when filter is set.
func (r *Reader) userQuery(plan *userPlan, filter string) *users.UsersRequestBuilderGetRequestConfiguration {
	query := &users.UsersRequestBuilderGetQueryParameters{Select: plan.selectFields, Top: r.top()}
	if plan.expandManager {
		query.Expand = []string{managerExpand}
	}
	if filter != "" {
		query.Filter = &filter
	}
	return &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: query}
}

const managerExpand = "manager($select=id,mail,userPrincipalName)"

// readUserList pages one users listing (filter "" for all of them) with
// plan's selection, appending each user to out.
func (r *Reader) readUserList(ctx context.Context, plan *userPlan, what, filter string, out []domain.SourceUser) ([]domain.SourceUser, error) {
	config := r.userQuery(plan, filter)
	// A builder of its own: the adapter writes the base URL into the path
	// parameters a builder shares with its requests, so concurrent
	// partitions must not share one.
	builder := users.NewUsersRequestBuilderInternal(map[string]string{}, r.adapter)
	values := newInterner()
	err := readPages(ctx, r, what, permUsers,
		func(ctx context.Context, link string) (*abs.RequestInformation, error) {
			if link == "" {
				return builder.ToGetRequestInformation(ctx, config)
			}
			return builder.WithUrl(link).ToGetRequestInformation(ctx, nil)
		},
		func(u *userJSON) error {
			su, err := plan.convert(u, values)
			if err != nil {
				return err
			}
			out = append(out, su)
			return nil
		})
	return out, err
}

// readUserPartitions reads the users partition by partition and checks
// that the partitions are exactly the tenant: no id twice, and their sum
// not short of Graph's $count beyond countTolerance. Otherwise it fails
// with errPartitionsMissed (any other failure fails the read as is).
func (r *Reader) readUserPartitions(ctx context.Context, plan *userPlan) ([]domain.SourceUser, error) {
	parts := make([][]domain.SourceUser, len(upnInitials))
	err := parallel(ctx, r.cfg.UserPartitionConcurrency, len(upnInitials), func(ctx context.Context, i int) error {
		initial := odataString(upnInitials[i])
		var err error
		parts[i], err = r.readUserList(ctx, plan.clone(), "users starting with "+initial, "startswith(userPrincipalName,"+initial+")", nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	counted, err := r.countUsers(ctx)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	out := make([]domain.SourceUser, 0, total)
	for i := range parts {
		out = append(out, parts[i]...)
		parts[i] = nil
	}
	sortUsers(out)
	for i := 1; i < len(out); i++ {
		if out[i].ID == out[i-1].ID {
			return nil, fmt.Errorf("%w: user %s is in two of them", errPartitionsMissed, out[i].ID)
		}
	}
	if err := checkComplete("users", len(out), counted); err != nil {
		return nil, fmt.Errorf("%w: %w", errPartitionsMissed, err)
	}
	return out, nil
}

// readUsersSequentially pages the whole users collection, one page after
// another, and checks it against Graph's $count.
func (r *Reader) readUsersSequentially(ctx context.Context, plan *userPlan) ([]domain.SourceUser, error) {
	out, err := r.readUserList(ctx, plan, "users", "", make([]domain.SourceUser, 0, r.cfg.PageSize))
	if err != nil {
		return nil, err
	}
	counted, err := r.countUsers(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkComplete("users", len(out), counted); err != nil {
		return nil, err
	}
	sortUsers(out)
	return out, nil
}

func (r *Reader) countUsers(ctx context.Context) (int, error) {
	return r.count(ctx, "users", permUsers, func(ctx context.Context) (*abs.RequestInformation, error) {
		return r.users.Count().ToGetRequestInformation(ctx, &users.CountRequestBuilderGetRequestConfiguration{Headers: eventualConsistency()})
	})
}

// sortUsers orders users by object id, whichever way they were read, so a
// snapshot does not depend on the partitioning (and group members can be
// ordered by position).
func sortUsers(us []domain.SourceUser) {
	slices.SortFunc(us, func(a, b domain.SourceUser) int { return cmp.Compare(a.ID, b.ID) })
}
