package entra

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	abs "github.com/microsoft/kiota-abstractions-go"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// Re-sync failures that a full read fixes; both are domain sentinels, so
// the preview worker can tell them apart without linking this package.
var (
	// ErrDeltaExpired: Graph no longer knows a deltaLink's token (410
	// Gone, or 400 for an expired page token).
	ErrDeltaExpired = domain.ErrDeltaExpired
	// ErrMirrorDrift: the mirror brought up to date does not add up to
	// Graph's counts of users and groups.
	ErrMirrorDrift = domain.ErrMirrorDrift
)

// deltaUserJSON is one entry of a users delta round: a user in full
// selected form, or one removed ("changed": soft-deleted, "deleted": gone
// for good; both leave the directory the service mirrors).
type deltaUserJSON struct {
	userJSON
	Removed *struct{} `json:"@removed"`
}

// ReadChanges brings prev, a mirror read with the same options, up to date:
// it follows the users and groups deltaLinks prev carries (both at once),
// applies what they list (users added, changed, removed and restored;
// groups added, changed and removed; direct members added and removed),
// and checks the result against Graph's $count of users and groups. prev
// is not modified; the mirror returned shares what did not change.
//
// A token Graph no longer knows fails with ErrDeltaExpired, counts that do
// not add up with ErrMirrorDrift, and a mirror read on another basis (another
// directory, other user properties) or without deltaLinks with
// domain.ErrNoMirror: a full read (ReadMirror) is what each of them needs.
// Otherwise the read is complete or it fails as ReadMirror does.
func (r *Reader) ReadChanges(ctx context.Context, opts domain.Options, prev *domain.SourceMirror) (*domain.SourceMirror, error) {
	ctx = withBodyBuffers(ctx)
	props := domain.UserProperties(opts.EffectiveMapping())
	plan, err := newUserPlan(props)
	if err != nil {
		return nil, err
	}
	switch {
	case prev == nil || prev.DeltaLinks.Users == "" || prev.DeltaLinks.Groups == "":
		return nil, fmt.Errorf("entra: read changes: %w: the mirror carries no deltaLinks", domain.ErrNoMirror)
	case prev.Basis != domain.MirrorBasis(r.cfg.DirectoryTenantID, props):
		return nil, fmt.Errorf("entra: read changes: %w: the mirror was read from another directory or with other user properties", domain.ErrNoMirror)
	}
	for _, link := range []string{prev.DeltaLinks.Users, prev.DeltaLinks.Groups} {
		if err := r.checkDeltaLink(link); err != nil {
			return nil, fmt.Errorf("entra: read changes: %w", err)
		}
	}

	var users *userChanges
	var groups *groupChanges
	next := *prev
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		users, next.DeltaLinks.Users, err = r.readUserChanges(gctx, plan, prev.DeltaLinks.Users)
		return err
	})
	g.Go(func() (err error) {
		groups, next.DeltaLinks.Groups, err = r.readGroupChanges(gctx, prev.DeltaLinks.Groups)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	next.Users = users.apply(prev.Users)
	if plan.expandManager {
		refreshManagers(next.Users, prev.Users, slices.Index(props, domain.ManagerProperty))
	}
	next.Groups = groups.apply(prev.Groups, users.removed)

	var usersCounted, groupsCounted int
	g, gctx = errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		usersCounted, err = r.countUsers(gctx)
		return err
	})
	g.Go(func() (err error) {
		groupsCounted, err = r.countGroups(gctx)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := checkMirrorCount("users", len(next.Users), usersCounted); err != nil {
		return nil, err
	}
	if err := checkMirrorCount("groups", len(next.Groups), groupsCounted); err != nil {
		return nil, err
	}
	if err := r.checkScope(ctx, &next, opts.Scope.Groups); err != nil {
		return nil, err
	}
	return &next, nil
}

// checkMirrorCount compares a mirror's number of objects with Graph's
// count: unlike a full read, a mirror can be long as well as short (a
// removal the deltas missed).
func checkMirrorCount(what string, have, counted int) error {
	tolerance := countTolerance(counted)
	if have-counted <= tolerance && counted-have <= tolerance {
		return nil
	}
	return &readError{Kind: ErrMirrorDrift, Message: fmt.Sprintf(
		"entra: the mirror brought up to date holds %s %s where Graph counts %s, more apart than its eventually consistent count explains",
		formatCount(have), what, formatCount(counted))}
}

// refreshManagers derives each user's manager value (property at) again
// from the users as they are now: a users round lists a user whose manager
// changed, not the reports of a manager whose mail changed or who left. A
// manager no longer among the users but among the previous ones left the
// directory, which takes the reference with it (as a full read shows); one
// in neither is not a user (an organisational contact) and keeps its
// value. users was built by this re-sync, so its entries may be replaced;
// their Values are shared and copied before a change.
func refreshManagers(users, prevUsers []domain.SourceUser, at int) {
	find := func(us []domain.SourceUser, id string) (int, bool) {
		return slices.BinarySearchFunc(us, id, func(u domain.SourceUser, id string) int { return cmp.Compare(u.ID, id) })
	}
	for i := range users {
		u := &users[i]
		if u.ManagerID == "" || at < 0 || at >= len(u.Values) {
			continue
		}
		value, managerID := "", ""
		if j, ok := find(users, u.ManagerID); ok {
			value, managerID = managerValue(users[j].Mail, users[j].UserPrincipalName), u.ManagerID
		} else if _, wasUser := find(prevUsers, u.ManagerID); !wasUser {
			continue
		}
		if u.Values[at] != value || u.ManagerID != managerID {
			u.Values = slices.Clone(u.Values)
			u.Values[at], u.ManagerID = value, managerID
		}
	}
}

// userChanges is what a users delta round listed, by id: the user as it
// is now, or removed.
type userChanges struct {
	changed map[string]domain.SourceUser
	removed map[string]struct{}
}

func (r *Reader) readUserChanges(ctx context.Context, plan *userPlan, link string) (*userChanges, string, error) {
	delta := r.users.Delta()
	values := newInterner()
	c := &userChanges{changed: make(map[string]domain.SourceUser), removed: make(map[string]struct{})}
	deltaLink, err := readPagesToEnd(ctx, r, "users delta", permUsers,
		func(ctx context.Context, next string) (*abs.RequestInformation, error) {
			if next == "" {
				next = link
			}
			return delta.WithUrl(next).ToGetRequestInformation(ctx, nil)
		},
		func(u *deltaUserJSON) error {
			if u.ID == "" {
				return malformed("Graph answered a user without an id")
			}
			// The last entry of a user wins: a user removed and restored
			// within the round is listed twice.
			if u.Removed != nil {
				delete(c.changed, u.ID)
				c.removed[u.ID] = struct{}{}
				return nil
			}
			su, err := plan.convert(&u.userJSON, values)
			if err != nil {
				return err
			}
			delete(c.removed, su.ID)
			c.changed[su.ID] = su
			return nil
		})
	if err != nil {
		return nil, "", err
	}
	if deltaLink == "" {
		return nil, "", fmt.Errorf("entra: read users delta: %w", malformed("Graph ended the users delta round without an @odata.deltaLink"))
	}
	return c, deltaLink, nil
}

// apply returns users (sorted by id) with the changes made, sorted by id.
func (c *userChanges) apply(users []domain.SourceUser) []domain.SourceUser {
	out := make([]domain.SourceUser, 0, len(users)+len(c.changed))
	for _, u := range users {
		if _, gone := c.removed[u.ID]; gone {
			continue
		}
		if _, changed := c.changed[u.ID]; changed {
			continue
		}
		out = append(out, u)
	}
	for _, u := range c.changed {
		out = append(out, u)
	}
	sortUsers(out)
	return out
}

// groupChanges is what a groups delta round listed, in the order Graph
// listed the groups: each group's properties as they are now, or its
// removal, and the net change of its direct members.
type groupChanges struct {
	order   []string
	byID    map[string]*groupChange
	removed map[string]struct{}
}

type groupChange struct {
	// props holds the properties the round gave (its members aside); one
	// it left out keeps the mirror's value.
	props         deltaGroupJSON
	users, groups memberDiff
}

// memberDiff is the net change of one kind of direct member: each id
// listed, in order, and whether it is now a member.
type memberDiff struct {
	order   []string
	present map[string]bool
}

func (d *memberDiff) set(id string, present bool) {
	if d.present == nil {
		d.present = make(map[string]bool)
	}
	if _, listed := d.present[id]; !listed {
		d.order = append(d.order, id)
	}
	d.present[id] = present
}

// apply is ids with the change made: the same slice when nothing changed.
func (d *memberDiff) apply(ids []string) []string {
	if len(d.order) == 0 {
		return ids
	}
	out := make([]string, 0, len(ids)+len(d.order))
	for _, id := range ids {
		if _, listed := d.present[id]; !listed {
			out = append(out, id)
		}
	}
	for _, id := range d.order {
		if d.present[id] {
			out = append(out, id)
		}
	}
	return out
}

func (r *Reader) readGroupChanges(ctx context.Context, link string) (*groupChanges, string, error) {
	c := &groupChanges{byID: make(map[string]*groupChange), removed: make(map[string]struct{})}
	deltaLink, err := r.readGroupDelta(ctx, link, func(g *deltaGroupJSON) error {
		if g.Removed != nil {
			delete(c.byID, g.ID)
			c.removed[g.ID] = struct{}{}
			return nil
		}
		delete(c.removed, g.ID)
		ch, seen := c.byID[g.ID]
		if !seen {
			ch = &groupChange{}
			c.byID[g.ID] = ch
			c.order = append(c.order, g.ID)
		}
		ch.props.ID = g.ID
		for _, p := range []struct{ to, from **string }{
			{&ch.props.DisplayName, &g.DisplayName}, {&ch.props.Description, &g.Description}, {&ch.props.Mail, &g.Mail},
		} {
			if *p.from != nil {
				*p.to = *p.from
			}
		}
		for _, m := range g.Members {
			present := m.Removed == nil
			switch m.Type {
			case odataUser:
				ch.users.set(m.ID, present)
			case odataGroup:
				ch.groups.set(m.ID, present)
			case "": // a removal Graph did not type: neither kind keeps it
				ch.users.set(m.ID, false)
				ch.groups.set(m.ID, false)
			}
			// Devices, contacts and service principals are not mirrored.
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return c, deltaLink, nil
}

// apply returns groups with the changes made: removed groups dropped,
// changed ones with their new properties and members, new ones at the
// end; and every removed user dropped from the members, as a full read
// would not list them. What did not change shares its memory with groups.
func (c *groupChanges) apply(groups []domain.DirectGroup, removedUsers map[string]struct{}) []domain.DirectGroup {
	out := make([]domain.DirectGroup, 0, len(groups)+len(c.order))
	kept := make(map[string]struct{}, len(groups))
	for _, g := range groups {
		if _, gone := c.removed[g.ID]; gone {
			continue
		}
		kept[g.ID] = struct{}{}
		if ch, changed := c.byID[g.ID]; changed {
			g = ch.merge(g)
		}
		out = append(out, withoutUsers(g, removedUsers))
	}
	for _, id := range c.order {
		if _, had := kept[id]; !had {
			if ch, ok := c.byID[id]; ok {
				out = append(out, withoutUsers(ch.merge(domain.DirectGroup{}), removedUsers))
			}
		}
	}
	return out
}

// merge is g as the change leaves it.
func (ch *groupChange) merge(g domain.DirectGroup) domain.DirectGroup {
	next := ch.props.properties(g)
	next.UserIDs = ch.users.apply(g.UserIDs)
	next.GroupIDs = ch.groups.apply(g.GroupIDs)
	return next
}

// withoutUsers is g without the given user members, copied only when it
// has any of them.
func withoutUsers(g domain.DirectGroup, users map[string]struct{}) domain.DirectGroup {
	if len(users) == 0 {
		return g
	}
	if !slices.ContainsFunc(g.UserIDs, func(id string) bool { _, gone := users[id]; return gone }) {
		return g
	}
	g.UserIDs = slices.DeleteFunc(slices.Clone(g.UserIDs), func(id string) bool { _, gone := users[id]; return gone })
	return g
}
