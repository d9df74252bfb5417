package plan

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"

	"dirsync/internal/domain"
)

// outcome is what the plan does with one source user.
type outcome uint8

const (
	outPending    outcome = iota // in scope, not classified yet
	outDisabled                  // out of scope: accountEnabled=false
	outExcluded                  // out of scope: guest excluded or outside the scope groups
	outSkip                      // in scope but cannot be applied (see skipReason)
	outAdd                       // creates a platform user
	outUpdate                    // changes a matched platform user
	outReactivate                // reactivates a user the sync deactivated
	outUnchanged                 // matched and already up to date
	outIgnored                   // listed in the connection's ignoredUsers
)

type skipReason uint8

const (
	skipNone skipReason = iota
	skipNoEmail
	skipDuplicateEmail
	skipEmailOwnedByOther
	skipLinkedElsewhere
)

var skipReasonText = [...]string{
	skipNone:              "",
	skipNoEmail:           domain.ReasonNoEmail,
	skipDuplicateEmail:    domain.ReasonDuplicateEmail,
	skipEmailOwnedByOther: domain.ReasonEmailOwnedByOther,
	skipLinkedElsewhere:   domain.ReasonLinkedElsewhere,
}

// sourceState is the working record of one source user. It holds no
// pointers: a million of them are one 16 MB block the collector skips.
type sourceState struct {
	// platform is the platform user matched by link (after resolving ids)
	// or by email (after classification), -1 when none.
	platform int32
	// holder is the platform user holding the same email, -1 when none;
	// sharers the number of in-scope source users with the email.
	holder  int32
	sharers int32
	outcome outcome
	skip    skipReason
	// byEmail: matched by email, so the change links the platform user.
	byEmail bool
	// emailChanged: matched by link and the email differs.
	emailChanged bool
}

// User change kinds in plan order; deactivations and ignored users gone
// from the source come from platform users, the others from source users.
// Ignored users are skips with their own reason, listed after the others.
const (
	kindAdd = iota
	kindUpdate
	kindReactivate
	kindDeactivate
	kindSkip
	kindIgnored     // an ignored source user
	kindIgnoredGone // a platform user linked to an ignored id the source no longer has
	userKindCount
)

var userKinds = [userKindCount]domain.ChangeKind{
	kindAdd:         domain.KindAdd,
	kindUpdate:      domain.KindUpdate,
	kindReactivate:  domain.KindReactivate,
	kindDeactivate:  domain.KindDeactivate,
	kindSkip:        domain.KindSkip,
	kindIgnored:     domain.KindSkip,
	kindIgnoredGone: domain.KindSkip,
}

// fromPlatform reports whether the changes of kind k are built from
// platform users rather than source users.
func fromPlatform(k int) bool { return k == kindDeactivate || k == kindIgnoredGone }

// kindOf maps a source outcome to its change kind, -1 for no change.
func kindOf(o outcome) int {
	switch o {
	case outAdd:
		return kindAdd
	case outUpdate:
		return kindUpdate
	case outReactivate:
		return kindReactivate
	case outSkip:
		return kindSkip
	case outIgnored:
		return kindIgnored
	}
	return -1
}

type computation struct {
	snap   *domain.Snapshot
	dir    *domain.Directory
	opts   domain.Options
	tenant string
	actor  string // normalised actor email, "" when none
	attrs  attrPlan
	// ignored holds the connection's ignoredUsers; ignoring says it is
	// not empty, so a sync without any pays nothing per user.
	ignored  ignoreSet
	ignoring bool

	src []sourceState
	// inScopeGroups marks members of a present scope group; nil when the
	// scope is every user.
	inScopeGroups []bool
	// mirrored lists the snapshot groups the platform mirrors, and
	// memberSource, per mirrored group, the source index of each MemberIDs
	// entry (-1 when not a source user).
	mirrored     []int
	memberSource [][]int32

	// platformSource is, per platform user linked to this tenant, the source
	// user with its external id, -1 when none (deleted from the source).
	platformSource []int32

	// userKeys holds, per user change kind, the keys the changes are
	// ordered by.
	userKeys   [userKindCount][]orderKey
	unchanged  int
	outOfScope int
	// The bases of the safeguards: active users linked to this tenant,
	// owned platform groups and the memberships those groups hold.
	activeLinked    int
	ownedGroups     int
	heldMemberships int
	// leftActive are the linked users leaving the scope that stay active
	// because deactivateMissing is off, by Entra object id.
	leftActive   []string
	groupChanges []domain.Change
	warnings     []string
}

func newComputation(in domain.PlanInput, dir *domain.Directory) *computation {
	ignored := newIgnoreSet(in.Options.IgnoredUsers)
	return &computation{
		snap:     in.Snapshot,
		dir:      dir,
		opts:     in.Options,
		tenant:   in.Snapshot.DirectoryTenantID,
		actor:    domain.NormalizeEmail(in.ActorEmail),
		attrs:    newAttrPlan(in.Options.EffectiveMapping(), in.Snapshot.UserProperties),
		ignored:  ignored,
		ignoring: !ignored.empty(),
	}
}

// findScope decides which groups are mirrored: every snapshot group, or
// the scope groups present in the snapshot.
func (c *computation) findScope() error {
	groups := c.snap.Groups
	scope := c.opts.Scope.Groups
	if len(scope) == 0 {
		c.mirrored = make([]int, len(groups))
		for i := range groups {
			c.mirrored[i] = i
		}
		return nil
	}
	groupByID := make(map[string]int, len(groups))
	for i := range groups {
		groupByID[groups[i].ID] = i
	}
	seen := make(map[string]bool, len(scope))
	var missing []string
	for _, id := range scope {
		id = strings.TrimSpace(id)
		if seen[id] {
			continue
		}
		seen[id] = true
		if gi, ok := groupByID[id]; ok {
			c.mirrored = append(c.mirrored, gi)
		} else {
			missing = append(missing, id)
		}
	}
	if len(c.mirrored) == 0 {
		return fmt.Errorf("%w: %s", domain.ErrScopeGroupsMissing, strings.Join(missing, ", "))
	}
	for _, id := range missing {
		c.warnings = append(c.warnings, fmt.Sprintf(
			"scope group %s is not in the source directory: its members are in scope only through another scope group", id))
	}
	return nil
}

// resolveIDs joins the source users' object ids with every id that refers
// to one: platform users' links and the mirrored groups' members. It then
// links source users to platform users and marks the scope.
func (c *computation) resolveIDs() error {
	users, pus := c.snap.Users, c.dir.Users
	if len(users) >= math.MaxInt32 || len(pus) >= math.MaxInt32 {
		return fmt.Errorf("%w: %d source and %d platform users exceed the supported size",
			domain.ErrInvalidSnapshot, len(users), len(pus))
	}
	for i := range users {
		if users[i].ID == "" {
			return fmt.Errorf("%w: users[%d] has no object id", domain.ErrInvalidSnapshot, i)
		}
	}
	n := 0
	for _, gi := range c.mirrored {
		n += len(c.snap.Groups[gi].MemberIDs)
	}
	members := make([]string, 0, n)
	for _, gi := range c.mirrored {
		members = append(members, c.snap.Groups[gi].MemberIDs...)
	}
	var duplicate atomic.Bool
	res := join(
		keySource[objectKey]{n: len(users), key: func(i int) (objectKey, string, keyKind) { return idKey(users[i].ID) }},
		keySource[objectKey]{n: len(pus) + len(members), key: func(i int) (objectKey, string, keyKind) {
			if i >= len(pus) {
				return idKey(members[i-len(pus)])
			}
			if p := &pus[i]; linkedTo(p, c.tenant) {
				return idKey(p.ExternalID)
			}
			return objectKey{}, "", noKey
		}},
		joinOptions{prefer: func(a, _ int32) int32 { duplicate.Store(true); return a }},
	)
	if duplicate.Load() {
		return duplicateUserError(users)
	}

	c.src = make([]sourceState, len(users))
	for i := range c.src {
		c.src[i] = sourceState{platform: -1, holder: -1}
	}
	c.platformSource = res.match[:len(pus):len(pus)]
	for pi, si := range c.platformSource {
		// Where several platform users carry one link (a directory at odds
		// with its own rules) the smallest platform id wins, whatever the
		// input order.
		if si >= 0 {
			if st := &c.src[si]; st.platform < 0 || pus[pi].ID < pus[st.platform].ID {
				st.platform = int32(pi)
			}
		}
	}

	flat := res.match[len(pus):]
	c.memberSource = make([][]int32, len(c.mirrored))
	for i, gi := range c.mirrored {
		n := len(c.snap.Groups[gi].MemberIDs)
		c.memberSource[i], flat = flat[:n:n], flat[n:]
	}
	if len(c.opts.Scope.Groups) > 0 {
		// Only scope groups are mirrored when there is a scope.
		c.inScopeGroups = make([]bool, len(users))
		for _, sources := range c.memberSource {
			for _, si := range sources {
				if si >= 0 {
					c.inScopeGroups[si] = true
				}
			}
		}
	}
	return nil
}

// duplicateUserError names the smallest object id that appears twice, so
// the message does not depend on the order the users were read in.
func duplicateUserError(users []domain.SourceUser) error {
	seen := make(map[string]bool, len(users))
	var dup string
	for i := range users {
		id := users[i].ID
		if seen[id] && (dup == "" || id < dup) {
			dup = id
		}
		seen[id] = true
	}
	return fmt.Errorf("%w: user object id %s appears twice", domain.ErrInvalidSnapshot, dup)
}

// classifySourceUsers decides every source user's outcome: first the
// scope and email usability, then who holds each email, then matching
// (which needs complete email counts to see duplicates).
func (c *computation) classifySourceUsers() {
	users := c.snap.Users
	workers := workerCount(len(users))
	forEachRange(len(users), workers, func(_, lo, hi int) {
		for si := lo; si < hi; si++ {
			st := &c.src[si]
			st.outcome, st.skip = c.sourceOutcome(&users[si], c.inScopeGroups == nil || c.inScopeGroups[si])
		}
	})

	// Who holds each in-scope email: a platform user (where several do,
	// against the directory's rules, the smallest id), and how many
	// in-scope source users share it.
	pus := c.dir.Users
	emails := join(
		keySource[textKey]{n: len(pus), key: func(i int) (textKey, string, keyKind) { return emailText(pus[i].Email) }},
		keySource[textKey]{n: len(users), key: func(i int) (textKey, string, keyKind) {
			if c.src[i].outcome != outPending {
				return textKey{}, "", noKey
			}
			return emailText(sourceEmail(&users[i]))
		}},
		joinOptions{
			prefer: func(a, b int32) int32 {
				if pus[b].ID < pus[a].ID {
					return b
				}
				return a
			},
			countProbes: true,
		},
	)

	// Match, then lay out the order keys: each worker counts its kinds,
	// and fills its own stretch of each kind's keys.
	type tally struct {
		kinds                 [userKindCount]int
		unchanged, outOfScope int
	}
	tallies := make([]tally, workers)
	forEachRange(len(users), workers, func(w, lo, hi int) {
		t := &tallies[w]
		for si := lo; si < hi; si++ {
			st := &c.src[si]
			st.holder, st.sharers = emails.match[si], emails.shared[si]
			switch st.outcome {
			case outPending:
				c.match(si)
			case outDisabled, outExcluded:
				t.outOfScope++
				continue
			}
			if k := kindOf(st.outcome); k >= 0 {
				t.kinds[k]++
			} else {
				t.unchanged++
			}
		}
	})
	offsets := make([][userKindCount]int, workers)
	for k := range userKindCount {
		n := 0
		for w := range tallies {
			offsets[w][k] = n
			n += tallies[w].kinds[k]
		}
		if !fromPlatform(k) {
			c.userKeys[k] = make([]orderKey, n)
		}
	}
	for _, t := range tallies {
		c.unchanged += t.unchanged
		c.outOfScope += t.outOfScope
	}
	forEachRange(len(users), workers, func(w, lo, hi int) {
		next := offsets[w]
		for si := lo; si < hi; si++ {
			if k := kindOf(c.src[si].outcome); k >= 0 {
				c.userKeys[k][next[k]] = newOrderKey(sourceEmail(&users[si]), int32(si))
				next[k]++
			}
		}
	})
}

// sourceOutcome is what the source alone decides of user u: ignored, out
// of scope (disabled, or a guest or outside the scope groups while
// inScope is false), skipped for want of an email, or outPending when
// the platform decides.
func (c *computation) sourceOutcome(u *domain.SourceUser, inScope bool) (outcome, skipReason) {
	switch {
	case c.ignoring && c.ignored.has(u.ID):
		// First: an ignored user takes no part in the scope, the email
		// matching or the duplicate detection.
		return outIgnored, skipNone
	case !u.AccountEnabled:
		return outDisabled, skipNone
	case u.Guest && !c.opts.IncludeGuests, !inScope:
		return outExcluded, skipNone
	case !usableEmail(sourceEmail(u)):
		return outSkip, skipNoEmail
	}
	return outPending, skipNone
}

// match decides the outcome of an in-scope source user with a usable
// email: skip, add, or the fate of the platform user it matches.
func (c *computation) match(si int) {
	st := &c.src[si]
	switch {
	case st.sharers > 1:
		// Picking one of several users sharing an email would be a guess.
		st.outcome, st.skip = outSkip, skipDuplicateEmail
	case st.platform >= 0:
		// Matched by link. Its email may change, but not to one that
		// another platform user holds.
		if st.holder >= 0 && st.holder != st.platform {
			st.outcome, st.skip = outSkip, skipEmailOwnedByOther
			return
		}
		st.emailChanged = st.holder != st.platform
		st.outcome = c.compare(si)
	case st.holder >= 0:
		p := &c.dir.Users[st.holder]
		switch {
		case p.ExternalID == "":
			// A manual user with this email: link it rather than create a
			// duplicate.
			st.platform, st.byEmail = st.holder, true
			st.outcome = c.compare(si)
		case p.ExternalTenantID == c.tenant:
			st.outcome, st.skip = outSkip, skipEmailOwnedByOther
		default:
			st.outcome, st.skip = outSkip, skipLinkedElsewhere
		}
	default:
		st.outcome = outAdd
	}
}

// compare decides what a matched source user's platform user needs.
func (c *computation) compare(si int) outcome {
	st := &c.src[si]
	p := &c.dir.Users[st.platform]
	if c.reactivates(st, p) {
		return outReactivate
	}
	if st.byEmail || st.emailChanged || p.Source != domain.SourceEntra ||
		!c.attrs.equal(&c.snap.Users[si], p.Attributes) {
		return outUpdate
	}
	return outUnchanged
}

// reactivates reports whether the matched platform user is one the sync
// deactivated itself; a user deactivated by someone else stays inactive.
func (c *computation) reactivates(st *sourceState, p *domain.PlatformUser) bool {
	return !st.byEmail && p.Status == domain.StatusInactive && p.DeactivatedBySync
}

// planDeactivations walks the platform users the sync owns, counts the
// active ones (the safeguard's base) and finds those leaving the scope.
// Users linked to an ignored id are left alone, and out of the base: the
// sync can never deactivate them.
func (c *computation) planDeactivations() {
	pus := c.dir.Users
	var leftActive []string
	for pi := range pus {
		p := &pus[pi]
		if c.ignoring && c.ignoredPlatform(pi) {
			if c.platformSource[pi] < 0 {
				// Its source user is listed already when still there.
				c.userKeys[kindIgnoredGone] = append(c.userKeys[kindIgnoredGone], newOrderKey(p.Email, int32(pi)))
			}
			continue
		}
		if p.Source != domain.SourceEntra || !linkedTo(p, c.tenant) || p.Status != domain.StatusActive {
			continue
		}
		c.activeLinked++
		if c.departure(pi) == "" || p.Protected || c.isActor(p) {
			continue
		}
		if !c.opts.DeactivateMissing {
			leftActive = append(leftActive, p.ExternalID)
			continue
		}
		c.userKeys[kindDeactivate] = append(c.userKeys[kindDeactivate], newOrderKey(p.Email, int32(pi)))
	}
	slices.Sort(leftActive)
	c.leftActive = leftActive
	if len(leftActive) > 0 {
		c.warnings = append(c.warnings, fmt.Sprintf(
			"%d linked users are no longer in scope (deleted, disabled or out of scope in Entra ID) and were left active because deactivateMissing is off",
			len(leftActive)))
	}
}

// departure returns why a platform user linked to this tenant is leaving
// the scope, or "" when its source user is still in scope (skipped source
// users included: they are in scope, just not applicable).
func (c *computation) departure(pi int) string {
	si := c.platformSource[pi]
	if si < 0 {
		return domain.ReasonDeleted
	}
	switch c.src[si].outcome {
	case outDisabled:
		return domain.ReasonDisabled
	case outExcluded:
		return domain.ReasonOutOfScope
	}
	return ""
}

// ignoredPlatform reports whether platform user pi is linked to an
// ignored Entra user, present in the source or not.
func (c *computation) ignoredPlatform(pi int) bool {
	p := &c.dir.Users[pi]
	if !c.ignoring || !linkedTo(p, c.tenant) {
		return false
	}
	if si := c.platformSource[pi]; si >= 0 {
		return c.src[si].outcome == outIgnored
	}
	return c.ignored.has(p.ExternalID)
}

func (c *computation) isActor(p *domain.PlatformUser) bool {
	return c.actor != "" && compareEmails(p.Email, c.actor) == 0
}

// sortUserKeys orders every user kind by normalised email, then external
// id; deactivations of two platform users sharing both (a directory at odds
// with its own rules) fall back to the platform id.
func (c *computation) sortUserKeys() {
	users, pus := c.snap.Users, c.dir.Users
	bySource := func(a, b int32) int {
		x, y := &users[a], &users[b]
		return cmp.Or(compareEmails(sourceEmail(x), sourceEmail(y)), strings.Compare(x.ID, y.ID))
	}
	byPlatform := func(a, b int32) int {
		x, y := &pus[a], &pus[b]
		return cmp.Or(compareEmails(x.Email, y.Email), strings.Compare(x.ExternalID, y.ExternalID), strings.Compare(x.ID, y.ID))
	}
	for k := range c.userKeys {
		if fromPlatform(k) {
			sortKeys(c.userKeys[k], byPlatform)
		} else {
			sortKeys(c.userKeys[k], bySource)
		}
	}
}

// sourceChange builds the change of source user si.
func (c *computation) sourceChange(kind int, si int, slab *attrSlab) domain.Change {
	u := &c.snap.Users[si]
	st := &c.src[si]
	email := sourceEmail(u)
	ch := domain.Change{
		ObjectType: domain.ObjectUser,
		Kind:       userKinds[kind],
		Subject:    domain.Subject{ExternalID: u.ID, Email: email, DisplayName: c.attrs.displayName(u)},
	}
	switch kind {
	case kindSkip:
		ch.Reason = skipReasonText[st.skip]
	case kindIgnored:
		ch.Reason = domain.ReasonIgnoredByAdmin
		if st.platform >= 0 {
			// The platform user left alone, so the admin can see whom.
			ch.TargetID = c.dir.Users[st.platform].ID
		}
	case kindAdd:
		ch.Attributes = c.attrs.desired(slab, u, email)
	case kindUpdate, kindReactivate:
		p := &c.dir.Users[st.platform]
		ch.TargetID, ch.BaseRevision = p.ID, p.Revision
		ch.Attributes = c.attrs.desired(slab, u, email)
		if st.emailChanged {
			ch.Fields = append(ch.Fields, domain.FieldChange{Name: domain.EmailAttribute, Before: p.Email, After: email})
		}
		ch.Fields = c.attrs.fields(ch.Fields, u, p.Attributes)
		if kind == kindReactivate {
			ch.Reason = domain.ReasonBackInScope
			ch.Fields = append(ch.Fields, domain.FieldChange{Name: "status", Before: string(p.Status), After: string(domain.StatusActive)})
		}
		if p.Source != domain.SourceEntra {
			ch.Fields = append(ch.Fields, domain.FieldChange{Name: "source", Before: string(p.Source), After: string(domain.SourceEntra)})
		}
		if st.byEmail {
			ch.Reason = domain.ReasonLinkByEmail
		}
		ch.Link = st.byEmail || p.Source != domain.SourceEntra
	}
	return ch
}

// ignoredGone builds the skip of platform user pi, linked to an ignored
// Entra user the source no longer has.
func (c *computation) ignoredGone(pi int) domain.Change {
	p := &c.dir.Users[pi]
	name, _ := p.Attributes.Get(c.attrs.displayNameAttr)
	return domain.Change{
		ObjectType: domain.ObjectUser,
		Kind:       domain.KindSkip,
		Subject:    domain.Subject{ExternalID: p.ExternalID, Email: p.Email, DisplayName: name},
		TargetID:   p.ID,
		Reason:     domain.ReasonIgnoredByAdmin,
	}
}

// deactivation builds the deactivation of platform user pi.
func (c *computation) deactivation(pi int) domain.Change {
	p := &c.dir.Users[pi]
	name, _ := p.Attributes.Get(c.attrs.displayNameAttr)
	return domain.Change{
		ObjectType:   domain.ObjectUser,
		Kind:         domain.KindDeactivate,
		Subject:      domain.Subject{ExternalID: p.ExternalID, Email: p.Email, DisplayName: name},
		TargetID:     p.ID,
		BaseRevision: p.Revision,
		Fields: []domain.FieldChange{
			{Name: "status", Before: string(domain.StatusActive), After: string(domain.StatusInactive)},
		},
		Reason: c.departure(pi),
	}
}
