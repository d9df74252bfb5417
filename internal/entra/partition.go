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

// upnInitials are the characters a userPrincipalName may begin with, one
// partition each (domain.UPNInitials: Graph's startswith compares
// case-insensitively, so one partition per letter covers both cases).
var upnInitials = domain.UPNInitials()

// errPartitionsMissed says the partitions did not add up to the tenant: a
// user in two of them, or their sum short of Graph's count. The reader
// then reads the users again in one sequential listing.
var errPartitionsMissed = errors.New("entra: the userPrincipalName partitions do not cover the users exactly")

// readUsers reads every user: in partitions by the first character of the
// userPrincipalName (the largest split by the second in a large tenant),
// UserPartitionConcurrency at a time, falling back to
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
//
// The users $count comes first, since it shapes the read: a tenant of more
// pages than partitions read at once also counts each initial, and an
// initial far above the rest is read in sub-partitions by its second
// character (userPartitions). Counted before rather than after the read,
// the total still checks it the same way: a user created meanwhile makes
// the read longer, which is fine; one deleted is within the tolerance, as
// the eventually consistent count's lag always was.
func (r *Reader) readUserPartitions(ctx context.Context, plan *userPlan) ([]domain.SourceUser, error) {
	counted, err := r.countUsers(ctx)
	if err != nil {
		return nil, err
	}
	prefixes, err := r.userPartitions(ctx, counted)
	if err != nil {
		return nil, err
	}
	parts := make([][]domain.SourceUser, len(prefixes))
	err = parallel(ctx, r.cfg.UserPartitionConcurrency, len(prefixes), func(ctx context.Context, i int) error {
		prefix := odataString(prefixes[i])
		var err error
		parts[i], err = r.readUserList(ctx, plan.clone(), "users starting with "+prefix, userPartitionFilter(prefixes[i]), nil)
		return err
	})
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

// userPartitionFilter is the $filter of the partition of the users whose
// userPrincipalName starts with prefix.
func userPartitionFilter(prefix string) string {
	return "startswith(userPrincipalName," + odataString(prefix) + ")"
}

// userPartitioning is the reader's shape of a partitioned read.
func (r *Reader) userPartitioning() domain.UserPartitioning {
	return domain.UserPartitioning{PageSize: r.cfg.PageSize, Workers: r.cfg.UserPartitionConcurrency}
}

// userPartitions chooses the userPrincipalName prefixes to read for a
// tenant of total users (domain.UserPartitioning.Partitions): the initials
// as they are, or, for a tenant of more pages than partitions read at
// once, the initials counted with a filtered $count each
// (UserPartitionConcurrency at a time, 0.15 s apiece under the Graph model:
// three rounds for the 44) and the largest split by their second
// character.
func (r *Reader) userPartitions(ctx context.Context, total int) ([]string, error) {
	shape := r.userPartitioning()
	if !shape.CountsInitials(total) {
		return shape.Partitions(total, nil), nil
	}
	counts := make([]int, len(upnInitials))
	err := parallel(ctx, r.cfg.UserPartitionConcurrency, len(upnInitials), func(ctx context.Context, i int) error {
		var err error
		counts[i], err = r.countUserPartition(ctx, upnInitials[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return shape.Partitions(total, counts), nil
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

// countUserPartition counts the users whose userPrincipalName starts with
// prefix: GET /users/$count?$filter=startswith(userPrincipalName,'j'), an
// advanced query (ConsistencyLevel: eventual). Count() copies the users
// builder's path parameters, so concurrent counts share nothing.
func (r *Reader) countUserPartition(ctx context.Context, prefix string) (int, error) {
	filter := userPartitionFilter(prefix)
	return r.count(ctx, "users starting with "+odataString(prefix), permUsers, func(ctx context.Context) (*abs.RequestInformation, error) {
		return r.users.Count().ToGetRequestInformation(ctx, &users.CountRequestBuilderGetRequestConfiguration{
			Headers:         eventualConsistency(),
			QueryParameters: &users.CountRequestBuilderGetQueryParameters{Filter: &filter},
		})
	})
}

// sortUsers orders users by object id, whichever way they were read, so a
// snapshot does not depend on the partitioning (and group members can be
// ordered by position).
func sortUsers(us []domain.SourceUser) {
	slices.SortFunc(us, func(a, b domain.SourceUser) int { return cmp.Compare(a.ID, b.ID) })
}
