package plan

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"dirsync/internal/domain"
)

const (
	tenant      = "tenant-1"
	otherTenant = "tenant-2"
)

var testProps = domain.UserProperties(domain.DefaultMapping())

// values lays out property/value pairs in testProps order, as a reader
// fills SourceUser.Values.
func values(kv ...string) []string {
	out := make([]string, len(testProps))
	for i := 0; i+1 < len(kv); i += 2 {
		j := slices.Index(testProps, kv[i])
		if j < 0 {
			panic("unknown test property " + kv[i])
		}
		out[j] = kv[i+1]
	}
	return out
}

// srcUser is an enabled member user whose mail and userPrincipalName are
// both upn, with a display name and extra property/value pairs.
func srcUser(id, upn, name string, kv ...string) domain.SourceUser {
	return domain.SourceUser{
		ID:                id,
		UserPrincipalName: upn,
		Mail:              upn,
		AccountEnabled:    true,
		Values:            values(append([]string{"displayName", name, "userPrincipalName", upn}, kv...)...),
	}
}

func disabled(u domain.SourceUser) domain.SourceUser { u.AccountEnabled = false; return u }
func guest(u domain.SourceUser) domain.SourceUser    { u.Guest = true; return u }
func withMail(u domain.SourceUser, mail string) domain.SourceUser {
	u.Mail = mail
	return u
}

// attrsOf builds name-sorted platform attributes from name/value pairs.
func attrsOf(kv ...string) domain.Attrs {
	var a domain.Attrs
	for i := 0; i+1 < len(kv); i += 2 {
		a = append(a, domain.Attr{Name: kv[i], Value: kv[i+1]})
	}
	slices.SortFunc(a, func(x, y domain.Attr) int { return strings.Compare(x.Name, y.Name) })
	return a
}

// synced is the platform user a previous sync of u left: linked, active,
// attributes equal to u's mapped values.
func synced(id string, u domain.SourceUser) domain.PlatformUser {
	var kv []string
	for _, m := range domain.DefaultMapping() {
		if i := slices.Index(testProps, m.Source); i >= 0 && u.Values[i] != "" {
			kv = append(kv, m.Attribute, u.Values[i])
		}
	}
	email := u.Mail
	if email == "" {
		email = u.UserPrincipalName
	}
	return domain.PlatformUser{
		ID:               id,
		Email:            email,
		Status:           domain.StatusActive,
		Source:           domain.SourceEntra,
		ExternalID:       u.ID,
		ExternalTenantID: tenant,
		Attributes:       attrsOf(kv...),
		Revision:         7,
	}
}

func manualUser(id, email string, kv ...string) domain.PlatformUser {
	return domain.PlatformUser{
		ID:         id,
		Email:      email,
		Status:     domain.StatusActive,
		Source:     domain.SourceManual,
		Attributes: attrsOf(kv...),
		Revision:   3,
	}
}

func snapshot(users []domain.SourceUser, groups ...domain.SourceGroup) *domain.Snapshot {
	return &domain.Snapshot{DirectoryTenantID: tenant, UserProperties: testProps, Users: users, Groups: groups}
}

func users(u ...domain.SourceUser) []domain.SourceUser { return u }

func directory(pus []domain.PlatformUser, groups ...domain.PlatformGroup) *domain.Directory {
	return &domain.Directory{Users: pus, Groups: groups}
}

func platform(p ...domain.PlatformUser) []domain.PlatformUser { return p }

func with(p domain.PlatformUser, edit func(*domain.PlatformUser)) domain.PlatformUser {
	edit(&p)
	return p
}

func ownedGroup(id, externalID, name string, members ...string) domain.PlatformGroup {
	return domain.PlatformGroup{
		ID: id, DisplayName: name, Source: domain.SourceEntra,
		ExternalID: externalID, ExternalTenantID: tenant, MemberIDs: members, Revision: 4,
	}
}

// summary renders a change on one line: object, kind, subject external id,
// <email>, @target, (reason), link, {fields}, +[added] -[removed].
func summary(ch domain.Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", ch.ObjectType, ch.Kind, ch.Subject.ExternalID)
	if ch.Subject.Email != "" {
		fmt.Fprintf(&b, " <%s>", ch.Subject.Email)
	}
	if ch.TargetID != "" {
		fmt.Fprintf(&b, " @%s", ch.TargetID)
	}
	if ch.Reason != "" {
		fmt.Fprintf(&b, " (%s)", ch.Reason)
	}
	if ch.Link {
		b.WriteString(" link")
	}
	if len(ch.Fields) > 0 {
		parts := make([]string, len(ch.Fields))
		for i, f := range ch.Fields {
			parts[i] = f.Name + ":" + f.Before + ">" + f.After
		}
		fmt.Fprintf(&b, " {%s}", strings.Join(parts, ", "))
	}
	refs := func(rs []domain.MemberRef) string {
		parts := make([]string, len(rs))
		for i, r := range rs {
			if r.UserID != "" {
				parts[i] = "u:" + r.UserID
			} else {
				parts[i] = "x:" + r.ExternalID
			}
		}
		return strings.Join(parts, " ")
	}
	if len(ch.MembersAdded) > 0 {
		fmt.Fprintf(&b, " +[%s]", refs(ch.MembersAdded))
	}
	if len(ch.MembersRemoved) > 0 {
		fmt.Fprintf(&b, " -[%s]", refs(ch.MembersRemoved))
	}
	return b.String()
}

func summaries(p *domain.Plan) []string {
	out := make([]string, len(p.Changes))
	for i, ch := range p.Changes {
		out[i] = summary(ch)
	}
	return out
}

func defaultSafeguards(percent float64, count int) []domain.Safeguard {
	return append([]domain.Safeguard{
		{Name: domain.SafeguardDeactivationPercent, Limit: domain.DefaultThresholdPercent, Actual: percent},
		{Name: domain.SafeguardDeactivationCount, Limit: domain.DefaultThresholdCount, Actual: float64(count)},
	}, idleRemovals(domain.DefaultThresholdPercent, domain.DefaultThresholdCount)...)
}

// idleRemovals are the removal safeguards of a plan that removes no group
// and no membership.
func idleRemovals(percentLimit, countLimit float64) []domain.Safeguard {
	return []domain.Safeguard{
		{Name: domain.SafeguardGroupRemovalPercent, Limit: percentLimit},
		{Name: domain.SafeguardGroupRemovalCount, Limit: countLimit},
		{Name: domain.SafeguardMembershipRemovalPercent, Limit: percentLimit},
		{Name: domain.SafeguardMembershipRemovalCount, Limit: countLimit},
	}
}

type planCase struct {
	name    string
	in      domain.PlanInput
	want    []string // summaries, in plan order
	counts  *domain.UserCounts
	warn    []string // substrings, one per expected warning
	wantErr error
	check   func(t *testing.T, p *domain.Plan)
}

func runPlanCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compute(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Compute error = %v, want %v", err, tc.wantErr)
				}
				if p != nil {
					t.Fatalf("Compute returned a plan with error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			checkInvariants(t, tc.in, p)
			if got := summaries(p); !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
			if tc.counts != nil && p.Counts.Users != *tc.counts {
				t.Errorf("user counts = %+v, want %+v", p.Counts.Users, *tc.counts)
			}
			if len(p.Warnings) != len(tc.warn) {
				t.Errorf("warnings = %q, want %d matching %q", p.Warnings, len(tc.warn), tc.warn)
			} else {
				for i, w := range tc.warn {
					if !strings.Contains(p.Warnings[i], w) {
						t.Errorf("warning[%d] = %q, want it to contain %q", i, p.Warnings[i], w)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestComputeUsers(t *testing.T) {
	alice := srcUser("s1", "alice@example.com", "Alice", "jobTitle", "Engineer")
	bob := srcUser("s2", "bob@example.com", "Bob")
	carol := srcUser("s3", "carol@example.com", "Carol")
	dave := srcUser("s4", "dave@example.com", "Dave")

	runPlanCases(t, []planCase{
		{
			name:   "add a new user with its complete attribute set",
			in:     domain.PlanInput{Snapshot: snapshot(users(alice)), Directory: directory(nil)},
			want:   []string{"user add s1 <alice@example.com>"},
			counts: &domain.UserCounts{Add: 1},
			check: func(t *testing.T, p *domain.Plan) {
				ch := p.Changes[0]
				want := attrsOf("displayName", "Alice", "email", "alice@example.com",
					"jobTitle", "Engineer", "userPrincipalName", "alice@example.com")
				if !reflect.DeepEqual(ch.Attributes, want) {
					t.Errorf("attributes = %v, want %v", ch.Attributes, want)
				}
				if ch.Subject.DisplayName != "Alice" || ch.TargetID != "" || ch.BaseRevision != 0 {
					t.Errorf("subject/target = %+v %q %d", ch.Subject, ch.TargetID, ch.BaseRevision)
				}
				if !reflect.DeepEqual(p.Safeguards, defaultSafeguards(0, 0)) {
					t.Errorf("safeguards = %+v", p.Safeguards)
				}
			},
		},
		{
			name: "update lists every changed field, email first, then mapping order",
			in: domain.PlanInput{
				Snapshot: snapshot(users(withMail(
					srcUser("s1", "alice@example.com", "Alice Example", "jobTitle", "Engineer", "department", "Sales"),
					"alice.new@example.com"))),
				Directory: directory(platform(with(synced("p1", alice), func(p *domain.PlatformUser) {
					p.Attributes = attrsOf("displayName", "Alice", "jobTitle", "Developer", "officeLocation", "HQ",
						"userPrincipalName", "alice@example.com", "nickname", "Al")
				}))),
			},
			want: []string{"user update s1 <alice.new@example.com> @p1 {" +
				"email:alice@example.com>alice.new@example.com, displayName:Alice>Alice Example, " +
				"jobTitle:Developer>Engineer, department:>Sales, officeLocation:HQ>}"},
			counts: &domain.UserCounts{Update: 1},
			check: func(t *testing.T, p *domain.Plan) {
				ch := p.Changes[0]
				want := attrsOf("department", "Sales", "displayName", "Alice Example", "email", "alice.new@example.com",
					"jobTitle", "Engineer", "userPrincipalName", "alice@example.com")
				if !reflect.DeepEqual(ch.Attributes, want) {
					t.Errorf("attributes = %v, want %v", ch.Attributes, want)
				}
				if ch.BaseRevision != 7 || ch.Link {
					t.Errorf("base revision %d link %v, want 7 false", ch.BaseRevision, ch.Link)
				}
			},
		},
		{
			name: "an up-to-date linked user is unchanged and emits no change",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(alice, bob)),
				Directory: directory(platform(synced("p1", alice), synced("p2", bob))),
			},
			counts: &domain.UserCounts{Unchanged: 2},
		},
		{
			name: "a manual user with the same email, in any case, is linked",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(alice)),
				Directory: directory(platform(manualUser("m1", "Alice@Example.COM", "displayName", "Alice", "jobTitle", "Engineer"))),
			},
			want: []string{"user update s1 <alice@example.com> @m1 (link_by_email) link " +
				"{userPrincipalName:>alice@example.com, source:manual>entra}"},
			counts: &domain.UserCounts{Update: 1},
			check: func(t *testing.T, p *domain.Plan) {
				if p.Changes[0].BaseRevision != 3 {
					t.Errorf("base revision = %d, want 3", p.Changes[0].BaseRevision)
				}
			},
		},
		{
			name: "link by object id wins over email",
			in: domain.PlanInput{
				Snapshot: snapshot(users(
					alice,
					bob,
					srcUser("s3", "carol@example.com", "Carol"),
				)),
				Directory: directory(platform(
					// alice's link points at p1, whose email is stale; the
					// manual user m2 holds her address now.
					with(synced("p1", alice), func(p *domain.PlatformUser) { p.Email = "alice.old@example.com" }),
					manualUser("m2", "alice@example.com"),
					// bob's link matches, his address differs in case only.
					with(synced("p3", bob), func(p *domain.PlatformUser) { p.Email = "BOB@example.com" }),
					// carol moves to a free address: the linked user follows.
					with(synced("p4", carol), func(p *domain.PlatformUser) { p.Email = "carol.old@example.com" }),
				)),
			},
			want: []string{
				"user update s3 <carol@example.com> @p4 {email:carol.old@example.com>carol@example.com}",
				"user skip s1 <alice@example.com> (email_owned_by_other)",
			},
			counts: &domain.UserCounts{Update: 1, Skip: 1, Unchanged: 1},
		},
		{
			name: "a user the sync deactivated is reactivated when back in scope",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice)),
				Directory: directory(platform(with(synced("p1", alice), func(p *domain.PlatformUser) {
					p.Status, p.DeactivatedBySync = domain.StatusInactive, true
					p.Attributes = attrsOf("displayName", "Alice", "jobTitle", "Intern", "userPrincipalName", "alice@example.com")
				}))),
			},
			want:   []string{"user reactivate s1 <alice@example.com> @p1 (back_in_scope) {jobTitle:Intern>Engineer, status:inactive>active}"},
			counts: &domain.UserCounts{Reactivate: 1},
		},
		{
			name: "a user deactivated by someone else keeps its status",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice, srcUser("s2", "bob@example.com", "Bob", "jobTitle", "Engineer"))),
				Directory: directory(platform(
					with(synced("p1", alice), func(p *domain.PlatformUser) { p.Status = domain.StatusInactive }),
					with(synced("p2", bob), func(p *domain.PlatformUser) { p.Status = domain.StatusInactive }),
				)),
			},
			want:   []string{"user update s2 <bob@example.com> @p2 {jobTitle:>Engineer}"},
			counts: &domain.UserCounts{Update: 1, Unchanged: 1},
		},
		{
			name: "deactivate deleted, disabled and out-of-scope users; skipped users stay",
			in: domain.PlanInput{
				Snapshot: snapshot(users(
					disabled(bob),
					guest(carol),
					dave,
					srcUser("s5", "Dave@Example.com", "Dave Two"),
				)),
				Directory: directory(platform(
					synced("p1", alice), // alice is gone from the source
					synced("p2", bob),
					synced("p3", carol),
					synced("p4", dave),
				)),
				Options: domain.Options{DeactivateMissing: true},
			},
			want: []string{
				"user deactivate s1 <alice@example.com> @p1 (deleted) {status:active>inactive}",
				"user deactivate s2 <bob@example.com> @p2 (disabled) {status:active>inactive}",
				"user deactivate s3 <carol@example.com> @p3 (out_of_scope) {status:active>inactive}",
				"user skip s4 <dave@example.com> (duplicate_email)",
				"user skip s5 <Dave@Example.com> (duplicate_email)",
			},
			counts: &domain.UserCounts{Deactivate: 3, Skip: 2, OutOfScope: 2},
			check: func(t *testing.T, p *domain.Plan) {
				if ch := p.Changes[0]; ch.Subject.DisplayName != "Alice" || ch.BaseRevision != 7 {
					t.Errorf("deactivation subject %+v revision %d", ch.Subject, ch.BaseRevision)
				}
			},
		},
		{
			name: "without deactivateMissing nobody is deactivated, and a warning counts them",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(disabled(bob), guest(carol), dave)),
				Directory: directory(platform(synced("p1", alice), synced("p2", bob), synced("p3", carol), synced("p4", dave))),
			},
			counts: &domain.UserCounts{Unchanged: 1, OutOfScope: 2},
			warn:   []string{"3 linked users are no longer in scope"},
			check: func(t *testing.T, p *domain.Plan) {
				if !reflect.DeepEqual(p.Safeguards, defaultSafeguards(0, 0)) {
					t.Errorf("safeguards = %+v", p.Safeguards)
				}
			},
		},
		{
			name: "never deactivate manual, protected, other-tenant users or the actor",
			in: domain.PlanInput{
				Snapshot: snapshot(users(srcUser("s9", "zed@example.com", "Zed"))),
				Directory: directory(platform(
					manualUser("m1", "manual@example.com"),
					with(synced("p2", bob), func(p *domain.PlatformUser) { p.Protected = true }),
					with(synced("p3", srcUser("s3", "admin@example.com", "Admin")), func(p *domain.PlatformUser) {}),
					with(synced("p4", dave), func(p *domain.PlatformUser) { p.ExternalTenantID = otherTenant }),
					synced("p5", carol),
				)),
				Options:    domain.Options{DeactivateMissing: true},
				ActorEmail: " ADMIN@example.com ",
			},
			want: []string{
				"user add s9 <zed@example.com>",
				"user deactivate s3 <carol@example.com> @p5 (deleted) {status:active>inactive}",
			},
			counts: &domain.UserCounts{Add: 1, Deactivate: 1},
			check: func(t *testing.T, p *domain.Plan) {
				// Active linked users of this tenant: p2, p3, p5.
				if got := p.Safeguards[0].Actual; fmt.Sprintf("%.4f", got) != "33.3333" {
					t.Errorf("deactivation percent = %v, want 33.3333", got)
				}
			},
		},
		{
			name: "skips: no usable email, guest UPN, duplicates, owned by another link, linked elsewhere",
			in: domain.PlanInput{
				Snapshot: snapshot(users(
					withMail(srcUser("s1", "not-an-address", "No Email"), ""),
					guest(withMail(srcUser("s2", "ext_user_example.com#EXT#@tenant.onmicrosoft.com", "Guest"), "")),
					withMail(srcUser("s3", "spaced@example.com", "Spaced"), "has space@example.com"),
					srcUser("s4", "Dup@Example.com", "Dup One"),
					srcUser("s5", "dup@example.com", "Dup Two"),
					srcUser("s6", "owned@example.com", "Owned"),
					srcUser("s7", "elsewhere@example.com", "Elsewhere"),
					withMail(srcUser("s8", "two@@example.com", "Two Ats"), ""),
				)),
				Directory: directory(platform(
					with(synced("p6", srcUser("s-gone", "owned@example.com", "Owner")), func(p *domain.PlatformUser) {
						p.Status = domain.StatusInactive
					}),
					with(synced("p7", srcUser("x7", "elsewhere@example.com", "Elsewhere")), func(p *domain.PlatformUser) {
						p.ExternalTenantID = otherTenant
					}),
				)),
				Options: domain.Options{IncludeGuests: true},
			},
			want: []string{
				"user skip s4 <Dup@Example.com> (duplicate_email)",
				"user skip s5 <dup@example.com> (duplicate_email)",
				"user skip s7 <elsewhere@example.com> (linked_elsewhere)",
				"user skip s2 <ext_user_example.com#EXT#@tenant.onmicrosoft.com> (no_email)",
				"user skip s3 <has space@example.com> (no_email)",
				"user skip s1 <not-an-address> (no_email)",
				"user skip s6 <owned@example.com> (email_owned_by_other)",
				"user skip s8 <two@@example.com> (no_email)",
			},
			counts: &domain.UserCounts{Skip: 8},
		},
		{
			name: "mail falls back to userPrincipalName",
			in: domain.PlanInput{
				Snapshot: snapshot(users(withMail(srcUser("s1", "alice@example.com", "Alice"), "  "))),
			},
			want: []string{"user add s1 <alice@example.com>"},
		},
		{
			name:   "guests are out of scope by default",
			in:     domain.PlanInput{Snapshot: snapshot(users(guest(alice), bob))},
			want:   []string{"user add s2 <bob@example.com>"},
			counts: &domain.UserCounts{Add: 1, OutOfScope: 1},
		},
		{
			name: "guests are in scope with includeGuests",
			in:   domain.PlanInput{Snapshot: snapshot(users(guest(alice), bob)), Options: domain.Options{IncludeGuests: true}},
			want: []string{
				"user add s1 <alice@example.com>",
				"user add s2 <bob@example.com>",
			},
			counts: &domain.UserCounts{Add: 2},
		},
		{
			name: "custom mapping decides the attributes compared and written",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice)),
				Directory: directory(platform(with(synced("p1", alice), func(p *domain.PlatformUser) {
					p.Attributes = attrsOf("title", "Developer", "name", "Alice", "displayName", "not mapped any more")
				}))),
				Options: domain.Options{Mapping: []domain.Mapping{
					{Attribute: "title", Source: "jobTitle"},
					{Attribute: "name", Source: "displayName"},
					{Attribute: "office", Source: "officeLocation"},
				}},
			},
			want: []string{"user update s1 <alice@example.com> @p1 {title:Developer>Engineer}"},
			check: func(t *testing.T, p *domain.Plan) {
				want := attrsOf("email", "alice@example.com", "name", "Alice", "title", "Engineer")
				if got := p.Changes[0].Attributes; !reflect.DeepEqual(got, want) {
					t.Errorf("attributes = %v, want %v", got, want)
				}
				if p.Changes[0].Subject.DisplayName != "Alice" {
					t.Errorf("display name = %q", p.Changes[0].Subject.DisplayName)
				}
			},
		},
		{
			name: "a property the snapshot did not read counts as empty",
			in: domain.PlanInput{
				Snapshot: &domain.Snapshot{
					DirectoryTenantID: tenant,
					UserProperties:    []string{"displayName"},
					Users: []domain.SourceUser{{
						ID: "s1", Mail: "alice@example.com", AccountEnabled: true, Values: []string{"Alice"},
					}},
				},
				Directory: directory(platform(with(synced("p1", alice), func(p *domain.PlatformUser) {
					p.Attributes = attrsOf("displayName", "Alice")
				}))),
				Options: domain.Options{Mapping: []domain.Mapping{
					{Attribute: "displayName", Source: "displayName"},
					{Attribute: "jobTitle", Source: "jobTitle"},
				}},
			},
			counts: &domain.UserCounts{Unchanged: 1},
		},
		{
			name: "attributes kept out of name order are still compared correctly",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice)),
				Directory: directory(platform(with(synced("p1", alice), func(p *domain.PlatformUser) {
					p.Attributes = domain.Attrs{
						{Name: "userPrincipalName", Value: "alice@example.com"},
						{Name: "jobTitle", Value: "Engineer"},
						{Name: "displayName", Value: "Alice"},
					}
				}))),
			},
			counts: &domain.UserCounts{Unchanged: 1},
		},
	})
}

// TestComputeEmailIdentity: matching, duplicates, email changes, the actor
// and the order all use domain.NormalizeEmail, so look-alikes of an address
// never match it and canonically equivalent spellings always do.
func TestComputeEmailIdentity(t *testing.T) {
	zed := srcUser("s9", "zed@example.com", "Zed")
	eveNFD := "e\u0301ve@example.com"
	eveNFC := "\u00e9ve@example.com"
	ipek := srcUser("s1", "ipek@example.com", "Ipek")
	runPlanCases(t, []planCase{
		{
			name: "a canonically equivalent spelling links the manual user",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(srcUser("s1", eveNFD, "Eve"))),
				Directory: directory(platform(manualUser("m1", eveNFC, "displayName", "Eve"))),
			},
			want:   []string{"user update s1 <" + eveNFD + "> @m1 (link_by_email) link {userPrincipalName:>" + eveNFD + ", source:manual>entra}"},
			counts: &domain.UserCounts{Update: 1},
		},
		{
			name: "the Kelvin sign is canonically K, so the same address as kate@",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(srcUser("s1", "\u212Aate@example.com", "Kate"))),
				Directory: directory(platform(manualUser("m1", "kate@example.com", "displayName", "Kate"))),
			},
			want:   []string{"user update s1 <\u212Aate@example.com> @m1 (link_by_email) link {userPrincipalName:>\u212Aate@example.com, source:manual>entra}"},
			counts: &domain.UserCounts{Update: 1},
		},
		{
			name: "look-alikes of ASCII addresses and non-ASCII capitals link nobody",
			in: domain.PlanInput{
				Snapshot: snapshot(users(
					srcUser("s1", "\u017Fam@example.com", "Sam"),
					srcUser("s2", "\u0130pek@example.com", "Ipek"),
					srcUser("s3", "\uFF21da@example.com", "Ada"),
					srcUser("s4", "\u00C9lodie@example.com", "Elodie"),
				)),
				Directory: directory(platform(
					manualUser("m1", "sam@example.com"),
					manualUser("m2", "ipek@example.com"),
					manualUser("m3", "ada@example.com"),
					manualUser("m4", "\u00e9lodie@example.com"),
				)),
			},
			// Ordered by normalised bytes: É (c3 89), İ (c4 b0), ſ (c5 bf), Ａ (ef bc a1).
			want: []string{
				"user add s4 <\u00C9lodie@example.com>",
				"user add s2 <\u0130pek@example.com>",
				"user add s1 <\u017Fam@example.com>",
				"user add s3 <\uFF21da@example.com>",
			},
			counts: &domain.UserCounts{Add: 4},
		},
		{
			name: "source users sharing a normalised email are all skipped",
			in: domain.PlanInput{
				Snapshot: snapshot(users(
					srcUser("s1", eveNFD, "Eve"), srcUser("s2", eveNFC, "Eve Too"),
					srcUser("s3", "Zoe@example.com", "Zoe"), srcUser("s4", " zoe@EXAMPLE.com", "Zoe Too"),
					srcUser("s5", "\u017Foe@example.com", "Look-alike"),
				)),
			},
			want: []string{
				"user add s5 <\u017Foe@example.com>",
				"user skip s3 <Zoe@example.com> (duplicate_email)",
				"user skip s4 <zoe@EXAMPLE.com> (duplicate_email)",
				"user skip s1 <" + eveNFD + "> (duplicate_email)",
				"user skip s2 <" + eveNFC + "> (duplicate_email)",
			},
			counts: &domain.UserCounts{Add: 1, Skip: 4},
		},
		{
			name: "a linked user renamed to a look-alike changes its email",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(srcUser("s1", "\u0130pek@example.com", "Ipek"))),
				Directory: directory(platform(synced("p1", ipek))),
			},
			want: []string{"user update s1 <\u0130pek@example.com> @p1 {email:ipek@example.com>\u0130pek@example.com, " +
				"userPrincipalName:ipek@example.com>\u0130pek@example.com}"},
			counts: &domain.UserCounts{Update: 1},
		},
		{
			name: "a linked user respelled canonically keeps its email",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(srcUser("s1", eveNFD, "Eve"))),
				Directory: directory(platform(synced("p1", srcUser("s1", eveNFC, "Eve")))),
			},
			want:   []string{"user update s1 <" + eveNFD + "> @p1 {userPrincipalName:" + eveNFC + ">" + eveNFD + "}"},
			counts: &domain.UserCounts{Update: 1},
		},
		{
			name: "the actor is recognised in any canonical spelling",
			in: domain.PlanInput{
				Snapshot:   snapshot(users(zed)),
				Directory:  directory(platform(synced("p9", zed), synced("p1", srcUser("s1", eveNFD, "Eve")))),
				Options:    domain.Options{DeactivateMissing: true},
				ActorEmail: " \u00e9VE@Example.COM ",
			},
			counts: &domain.UserCounts{Unchanged: 1},
		},
		{
			name: "a look-alike of the actor is not the actor",
			in: domain.PlanInput{
				Snapshot:   snapshot(users(zed)),
				Directory:  directory(platform(synced("p9", zed), synced("p1", ipek))),
				Options:    domain.Options{DeactivateMissing: true},
				ActorEmail: "\u0130pek@example.com",
			},
			want:   []string{"user deactivate s1 <ipek@example.com> @p1 (deleted) {status:active>inactive}"},
			counts: &domain.UserCounts{Unchanged: 1, Deactivate: 1},
		},
		{
			name: "changes are ordered by normalised email past the packed prefix",
			in: domain.PlanInput{Snapshot: snapshot(users(
				srcUser("s1", "aaaaaaaaaaaaaaaaaaaaaaae\u0301@example.com", "Composed"),
				srcUser("s2", "aaaaaaaaaaaaaaaaaaaaaaaf@example.com", "Plain"),
			))},
			want: []string{
				"user add s2 <aaaaaaaaaaaaaaaaaaaaaaaf@example.com>",
				"user add s1 <aaaaaaaaaaaaaaaaaaaaaaae\u0301@example.com>",
			},
			counts: &domain.UserCounts{Add: 2},
		},
	})
}

func TestComputeScope(t *testing.T) {
	alice := srcUser("s1", "alice@example.com", "Alice")
	bob := srcUser("s2", "bob@example.com", "Bob")
	carol := srcUser("s3", "carol@example.com", "Carol")
	engineering := domain.SourceGroup{
		ID: "g1", DisplayName: "Engineering",
		// bob is a member through a nested group: MemberIDs are transitive.
		MemberIDs: []string{"s1", "s2"},
	}
	sales := domain.SourceGroup{ID: "g2", DisplayName: "Sales", MemberIDs: []string{"s3"}}

	runPlanCases(t, []planCase{
		{
			name: "scope groups put their transitive members in scope and are the only groups mirrored",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice, bob, carol), engineering, sales),
				Options:  domain.Options{Scope: domain.Scope{Groups: []string{"g1"}}},
			},
			want: []string{
				"user add s1 <alice@example.com>",
				"user add s2 <bob@example.com>",
				"group add g1 +[x:s1 x:s2]",
			},
			counts: &domain.UserCounts{Add: 2, OutOfScope: 1},
		},
		{
			name: "a disabled scope-group member is out of scope",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice, disabled(bob), carol), engineering, sales),
				Options:  domain.Options{Scope: domain.Scope{Groups: []string{"g1"}}},
			},
			want: []string{
				"user add s1 <alice@example.com>",
				"group add g1 +[x:s1]",
			},
			counts: &domain.UserCounts{Add: 1, OutOfScope: 2},
		},
		{
			name: "a missing scope group is a warning when another is present",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice, bob, carol), engineering, sales),
				Options:  domain.Options{Scope: domain.Scope{Groups: []string{"g-gone", "g2", "g2"}}},
			},
			want: []string{
				"user add s3 <carol@example.com>",
				"group add g2 +[x:s3]",
			},
			counts: &domain.UserCounts{Add: 1, OutOfScope: 2},
			warn:   []string{"scope group g-gone is not in the source directory"},
		},
		{
			name: "all scope groups missing is refused",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice), engineering),
				Options:  domain.Options{Scope: domain.Scope{Groups: []string{"g-gone"}}},
			},
			wantErr: domain.ErrScopeGroupsMissing,
		},
		{
			name: "leaving the scope groups deactivates with reason out_of_scope",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(alice, bob, carol), engineering, sales),
				Directory: directory(platform(synced("p1", alice), synced("p3", carol))),
				Options: domain.Options{
					Scope:                 domain.Scope{Groups: []string{"g1"}},
					DeactivateMissing:     true,
					DeactivationThreshold: domain.Threshold{Percent: 60},
				},
			},
			want: []string{
				"user add s2 <bob@example.com>",
				"user deactivate s3 <carol@example.com> @p3 (out_of_scope) {status:active>inactive}",
				"group add g1 +[x:s2 u:p1]",
			},
			counts: &domain.UserCounts{Add: 1, Deactivate: 1, Unchanged: 1, OutOfScope: 1},
		},
	})
}

func TestComputeSafeguards(t *testing.T) {
	var src []domain.SourceUser
	var pus []domain.PlatformUser
	for i := range 5 {
		u := srcUser(fmt.Sprintf("s%d", i), fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("User %d", i))
		src = append(src, u)
		pus = append(pus, synced(fmt.Sprintf("p%d", i), u))
	}
	in := func(deleted int, th domain.Threshold) domain.PlanInput {
		return domain.PlanInput{
			Snapshot:  snapshot(src[deleted:]),
			Directory: directory(pus),
			Options:   domain.Options{DeactivateMissing: true, DeactivationThreshold: th},
		}
	}
	safeguards := func(pTripped bool, pLimit, pActual float64, cTripped bool, cLimit, cActual float64) []domain.Safeguard {
		return append([]domain.Safeguard{
			{Name: domain.SafeguardDeactivationPercent, Tripped: pTripped, Limit: pLimit, Actual: pActual},
			{Name: domain.SafeguardDeactivationCount, Tripped: cTripped, Limit: cLimit, Actual: cActual},
		}, idleRemovals(pLimit, cLimit)...)
	}
	tests := []struct {
		name string
		in   domain.PlanInput
		want []domain.Safeguard
	}{
		{"exactly at the default percent is not tripped", in(1, domain.Threshold{}), safeguards(false, 20, 20, false, 500, 1)},
		{"above the percent trips", in(2, domain.Threshold{}), safeguards(true, 20, 40, false, 500, 2)},
		{"a lower percent trips", in(1, domain.Threshold{Percent: 10}), safeguards(true, 10, 20, false, 500, 1)},
		{"exactly at the count is not tripped", in(2, domain.Threshold{Percent: 50, Count: 2}), safeguards(false, 50, 40, false, 2, 2)},
		{"above the count trips", in(2, domain.Threshold{Percent: 50, Count: 1}), safeguards(false, 50, 40, true, 1, 2)},
		{"nothing linked is 0 %", domain.PlanInput{Snapshot: snapshot(src)}, safeguards(false, 20, 0, false, 500, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compute(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, tc.in, p)
			if !reflect.DeepEqual(p.Safeguards, tc.want) {
				t.Errorf("safeguards = %+v, want %+v", p.Safeguards, tc.want)
			}
			if p.Tripped() != (tc.want[0].Tripped || tc.want[1].Tripped) {
				t.Errorf("Tripped() = %v", p.Tripped())
			}
		})
	}
}

// TestComputeRemovalSafeguards: group removals count against the owned
// groups and membership removals against the memberships those groups
// hold, with the deactivation threshold's limits.
func TestComputeRemovalSafeguards(t *testing.T) {
	// removals builds owned platform groups pg0..pg<owned-1> mirroring
	// g0..; the source keeps g0..g<kept-1>. pg0 holds members synced users,
	// of whom the source's g0 keeps the first keptMembers.
	removals := func(owned, kept, members, keptMembers int, th domain.Threshold) domain.PlanInput {
		var src []domain.SourceUser
		var pus []domain.PlatformUser
		var srcIDs, platformIDs []string
		for i := range members {
			u := srcUser(fmt.Sprintf("s%02d", i), fmt.Sprintf("user%02d@example.com", i), fmt.Sprintf("User %d", i))
			src = append(src, u)
			pus = append(pus, synced(fmt.Sprintf("p%02d", i), u))
			srcIDs, platformIDs = append(srcIDs, u.ID), append(platformIDs, pus[i].ID)
		}
		var sgs []domain.SourceGroup
		for i := range kept {
			sgs = append(sgs, domain.SourceGroup{ID: fmt.Sprintf("g%d", i), DisplayName: fmt.Sprintf("Group %d", i)})
		}
		var pgs []domain.PlatformGroup
		for i := range owned {
			pgs = append(pgs, ownedGroup(fmt.Sprintf("pg%d", i), fmt.Sprintf("g%d", i), fmt.Sprintf("Group %d", i)))
		}
		if members > 0 {
			sgs[0].MemberIDs = srcIDs[:keptMembers]
			pgs[0].MemberIDs = platformIDs
		}
		return domain.PlanInput{Snapshot: snapshot(src, sgs...), Directory: directory(pus, pgs...), Options: domain.Options{DeactivationThreshold: th}}
	}
	withGroups := func(in domain.PlanInput, extra ...domain.PlatformGroup) domain.PlanInput {
		in.Directory.Groups = append(in.Directory.Groups, extra...)
		return in
	}
	manual := domain.PlatformGroup{ID: "pm", DisplayName: "Manual", Source: domain.SourceManual, MemberIDs: []string{"p00"}}
	foreign := with2(ownedGroup("px", "g7", "Foreign", "p00"), func(g *domain.PlatformGroup) { g.ExternalTenantID = otherTenant })
	custom := domain.Threshold{Percent: 100, Count: 2} // 100 % never trips: the count decides
	sg := func(name string, tripped bool, limit, actual float64) domain.Safeguard {
		return domain.Safeguard{Name: name, Tripped: tripped, Limit: limit, Actual: actual}
	}
	const (
		groupPct  = domain.SafeguardGroupRemovalPercent
		groupN    = domain.SafeguardGroupRemovalCount
		memberPct = domain.SafeguardMembershipRemovalPercent
		memberN   = domain.SafeguardMembershipRemovalCount
	)
	tests := []struct {
		name string
		in   domain.PlanInput
		want []domain.Safeguard // the safeguards expected; every other is untripped
	}{
		{"no owned group is 0 %", withGroups(removals(0, 2, 0, 0, domain.Threshold{}), manual),
			[]domain.Safeguard{sg(groupPct, false, 20, 0), sg(groupN, false, 500, 0), sg(memberPct, false, 20, 0), sg(memberN, false, 500, 0)}},
		{"one group of five is at 20 %", removals(5, 4, 0, 0, domain.Threshold{}),
			[]domain.Safeguard{sg(groupPct, false, 20, 20), sg(groupN, false, 500, 1)}},
		{"one group of six is under 20 %", removals(6, 5, 0, 0, domain.Threshold{}),
			[]domain.Safeguard{sg(groupPct, false, 20, 100.0/6), sg(groupN, false, 500, 1)}},
		{"two groups of nine are over 20 %", removals(9, 7, 0, 0, domain.Threshold{}),
			[]domain.Safeguard{sg(groupPct, true, 20, 200.0/9), sg(groupN, false, 500, 2)}},
		{"manual and other-tenant groups are not in the base", withGroups(removals(1, 0, 0, 0, domain.Threshold{}), manual, foreign),
			[]domain.Safeguard{sg(groupPct, true, 20, 100), sg(groupN, false, 500, 1)}},
		{"group removals under the count", removals(4, 3, 0, 0, custom),
			[]domain.Safeguard{sg(groupPct, false, 100, 25), sg(groupN, false, 2, 1)}},
		{"group removals at the count", removals(4, 2, 0, 0, custom),
			[]domain.Safeguard{sg(groupPct, false, 100, 50), sg(groupN, false, 2, 2)}},
		{"group removals over the count", removals(4, 1, 0, 0, custom),
			[]domain.Safeguard{sg(groupPct, false, 100, 75), sg(groupN, true, 2, 3)}},
		{"no owned group: added memberships are not removals", removals(0, 1, 0, 0, domain.Threshold{}),
			[]domain.Safeguard{sg(memberPct, false, 20, 0), sg(memberN, false, 500, 0)}},
		{"one membership of ten is under 20 %", removals(1, 1, 10, 9, domain.Threshold{}),
			[]domain.Safeguard{sg(memberPct, false, 20, 10), sg(memberN, false, 500, 1)}},
		{"two memberships of ten are at 20 %", removals(1, 1, 10, 8, domain.Threshold{}),
			[]domain.Safeguard{sg(memberPct, false, 20, 20), sg(memberN, false, 500, 2)}},
		{"three memberships of ten are over 20 %", removals(1, 1, 10, 7, domain.Threshold{}),
			[]domain.Safeguard{sg(memberPct, true, 20, 30), sg(memberN, false, 500, 3)}},
		{"membership removals under the count", removals(1, 1, 10, 9, custom),
			[]domain.Safeguard{sg(memberPct, false, 100, 10), sg(memberN, false, 2, 1)}},
		{"membership removals at the count", removals(1, 1, 10, 8, custom),
			[]domain.Safeguard{sg(memberPct, false, 100, 20), sg(memberN, false, 2, 2)}},
		{"membership removals over the count", removals(1, 1, 10, 7, custom),
			[]domain.Safeguard{sg(memberPct, false, 100, 30), sg(memberN, true, 2, 3)}},
		{"a removed group's memberships are in the base and removed with it",
			withGroups(removals(1, 1, 10, 8, domain.Threshold{}), ownedGroup("pg9", "g9", "Gone",
				"p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09")),
			[]domain.Safeguard{sg(groupPct, true, 20, 50), sg(groupN, false, 500, 1), sg(memberPct, true, 20, 60), sg(memberN, false, 500, 12)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compute(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, tc.in, p)
			byName := map[string]domain.Safeguard{}
			for _, g := range p.Safeguards {
				byName[g.Name] = g
			}
			tripped := false
			for _, w := range tc.want {
				if got := byName[w.Name]; got != w {
					t.Errorf("safeguard %+v, want %+v", got, w)
				}
				delete(byName, w.Name)
				tripped = tripped || w.Tripped
			}
			for _, g := range byName {
				if g.Tripped {
					t.Errorf("safeguard %+v tripped", g)
				}
			}
			if p.Tripped() != tripped {
				t.Errorf("Tripped() = %v, want %v", p.Tripped(), tripped)
			}
		})
	}
}

func TestComputeRefuses(t *testing.T) {
	alice := srcUser("s1", "alice@example.com", "Alice")
	runPlanCases(t, []planCase{
		{
			name: "an empty source while the platform holds linked users",
			in: domain.PlanInput{
				Snapshot: snapshot(nil),
				Directory: directory(platform(with(synced("p1", alice), func(p *domain.PlatformUser) {
					p.Status = domain.StatusInactive // any status counts
				}))),
			},
			wantErr: domain.ErrSourceEmpty,
		},
		{
			name: "an empty source with only manual and other-tenant users is fine",
			in: domain.PlanInput{
				Snapshot: snapshot(nil),
				Directory: directory(platform(
					manualUser("m1", "m@example.com"),
					with(synced("p1", alice), func(p *domain.PlatformUser) { p.ExternalTenantID = otherTenant }),
				)),
				Options: domain.Options{DeactivateMissing: true},
			},
		},
		{
			name:    "the reserved email attribute in a mapping",
			in:      domain.PlanInput{Snapshot: snapshot(users(alice)), Options: domain.Options{Mapping: []domain.Mapping{{Attribute: "email", Source: "mail"}}}},
			wantErr: domain.ErrInvalidOptions,
		},
		{
			name:    "an unsupported source property in a mapping",
			in:      domain.PlanInput{Snapshot: snapshot(users(alice)), Options: domain.Options{Mapping: []domain.Mapping{{Attribute: "x", Source: "passwordProfile"}}}},
			wantErr: domain.ErrInvalidOptions,
		},
		{
			name:    "a negative percent threshold",
			in:      domain.PlanInput{Snapshot: snapshot(users(alice)), Options: domain.Options{DeactivationThreshold: domain.Threshold{Percent: -1}}},
			wantErr: domain.ErrInvalidOptions,
		},
		{
			name:    "a negative count threshold",
			in:      domain.PlanInput{Snapshot: snapshot(users(alice)), Options: domain.Options{DeactivationThreshold: domain.Threshold{Count: -5}}},
			wantErr: domain.ErrInvalidOptions,
		},
		{
			name:    "an empty scope group id",
			in:      domain.PlanInput{Snapshot: snapshot(users(alice)), Options: domain.Options{Scope: domain.Scope{Groups: []string{" "}}}},
			wantErr: domain.ErrInvalidOptions,
		},
		{
			name:    "no snapshot",
			in:      domain.PlanInput{},
			wantErr: domain.ErrInvalidSnapshot,
		},
		{
			name:    "a snapshot without tenant id",
			in:      domain.PlanInput{Snapshot: &domain.Snapshot{Users: users(alice)}},
			wantErr: domain.ErrInvalidSnapshot,
		},
		{
			name:    "two source users with one object id",
			in:      domain.PlanInput{Snapshot: snapshot(users(alice, srcUser("s1", "other@example.com", "Other")))},
			wantErr: domain.ErrInvalidSnapshot,
		},
		{
			name:    "a source user without object id",
			in:      domain.PlanInput{Snapshot: snapshot(users(srcUser("", "x@example.com", "X")))},
			wantErr: domain.ErrInvalidSnapshot,
		},
		{
			name: "two source groups with one object id",
			in: domain.PlanInput{Snapshot: snapshot(users(alice),
				domain.SourceGroup{ID: "g1"}, domain.SourceGroup{ID: "g1"})},
			wantErr: domain.ErrInvalidSnapshot,
		},
	})
}

func TestComputeGroups(t *testing.T) {
	alice := srcUser("s1", "alice@example.com", "Alice")
	bob := srcUser("s2", "bob@example.com", "Bob")
	carol := srcUser("s3", "carol@example.com", "Carol")
	carolTwin := srcUser("s4", "CAROL@example.com", "Carol Twin")
	erin := srcUser("s5", "erin@example.com", "Erin")

	runPlanCases(t, []planCase{
		{
			name: "groups are added, updated and removed; manual and other-tenant groups are untouched",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice),
					domain.SourceGroup{ID: "g1", DisplayName: "engineering", Mail: "eng@example.com", MemberIDs: []string{"s1"}},
					domain.SourceGroup{ID: "g2", DisplayName: "Sales", Description: "Sells", MemberIDs: []string{"s1"}},
					domain.SourceGroup{ID: "g3", DisplayName: "Unchanged", MemberIDs: []string{"s1"}},
					domain.SourceGroup{ID: "g6", DisplayName: "Apples"},
				),
				Directory: directory(platform(synced("p1", alice)),
					with2(ownedGroup("pg2", "g2", "Sales Team", "p1"), func(g *domain.PlatformGroup) { g.Description = "Old" }),
					ownedGroup("pg3", "g3", "Unchanged", "p1"),
					ownedGroup("pg4", "g4", "Gone", "p1"),
					domain.PlatformGroup{ID: "pm", DisplayName: "Everyone", Source: domain.SourceManual, MemberIDs: []string{"p9"}},
					with2(ownedGroup("po", "g2", "Other tenant's Sales"), func(g *domain.PlatformGroup) { g.ExternalTenantID = otherTenant }),
				),
			},
			want: []string{
				"group add g6",
				"group add g1 <eng@example.com> +[u:p1]",
				"group update g2 @pg2 {displayName:Sales Team>Sales, description:Old>Sells}",
				"group remove g4 @pg4 -[u:p1]",
			},
			counts: &domain.UserCounts{Unchanged: 1},
			check: func(t *testing.T, p *domain.Plan) {
				if got := p.Counts.Groups; got != (domain.GroupCounts{Add: 2, Update: 1, Remove: 1}) {
					t.Errorf("group counts = %+v", got)
				}
				if got := p.Counts.Memberships; got != (domain.MembershipCounts{Add: 1, Remove: 1}) {
					t.Errorf("membership counts = %+v", got)
				}
				for _, ch := range p.Changes {
					if ch.Kind != domain.KindAdd && ch.BaseRevision != 4 {
						t.Errorf("%s: base revision = %d, want 4", summary(ch), ch.BaseRevision)
					}
				}
			},
		},
		{
			name: "memberships: added users by external id, skipped members left alone",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice, bob, carol, carolTwin, disabled(erin)),
					domain.SourceGroup{ID: "g1", DisplayName: "Team", MemberIDs: []string{"s1", "s2", "s3", "s5"}},
				),
				Directory: directory(platform(
					synced("p1", alice),
					synced("p3", carol), // skipped: s4 shares her email
					synced("p5", erin),  // disabled in the source
					manualUser("p9", "stranger@example.com"),
				),
					ownedGroup("pg1", "g1", "Team", "p3", "p5", "p9"),
				),
			},
			want: []string{
				"user add s2 <bob@example.com>",
				"user skip s3 <carol@example.com> (duplicate_email)",
				"user skip s4 <CAROL@example.com> (duplicate_email)",
				"group update g1 @pg1 +[x:s2 u:p1] -[u:p5 u:p9]",
			},
			counts: &domain.UserCounts{Add: 1, Skip: 2, Unchanged: 1, OutOfScope: 1},
			warn:   []string{"1 linked users are no longer in scope"},
			check: func(t *testing.T, p *domain.Plan) {
				if got := p.Counts.Memberships; got != (domain.MembershipCounts{Add: 2, Remove: 2}) {
					t.Errorf("membership counts = %+v", got)
				}
			},
		},
		{
			name: "a removed group lists every membership it drops and keeps its description",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice, bob, carol, carolTwin)),
				Directory: directory(platform(synced("p1", alice), synced("p3", carol), synced("p4", disabled(erin))),
					// Members the sync would otherwise leave alone go with
					// the group too: a skipped user, a user gone from the
					// source, a platform user no longer there.
					with2(ownedGroup("pg1", "g1", "Old", "p1", "p3", "p4", "p-gone"), func(g *domain.PlatformGroup) { g.Description = "Retired" }),
				),
				Options: domain.Options{DeactivateMissing: true},
			},
			want: []string{
				"user add s2 <bob@example.com>",
				"user deactivate s5 <erin@example.com> @p4 (deleted) {status:active>inactive}",
				"user skip s3 <carol@example.com> (duplicate_email)",
				"user skip s4 <CAROL@example.com> (duplicate_email)",
				"group remove g1 @pg1 -[u:p-gone u:p1 u:p3 u:p4]",
			},
			counts: &domain.UserCounts{Add: 1, Deactivate: 1, Skip: 2, Unchanged: 1},
			check: func(t *testing.T, p *domain.Plan) {
				if got := p.Counts.Memberships; got != (domain.MembershipCounts{Remove: 4}) {
					t.Errorf("membership counts = %+v, want the removal's 4", got)
				}
				removal := p.Changes[len(p.Changes)-1]
				if !reflect.DeepEqual(removal.Attributes, domain.Attrs{{Name: "description", Value: "Retired"}}) {
					t.Errorf("removal attributes = %v, want its description", removal.Attributes)
				}
				// The memberships go with the group whatever becomes of
				// their users: excluding a user leaves them in.
				for _, ch := range p.Changes {
					if len(ch.MemberOf) > 0 {
						t.Errorf("%s is linked to %v: a removal's memberships follow no user", summary(ch), ch.MemberOf)
					}
				}
			},
		},
		{
			name: "a removed group without members lists none",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(alice)),
				Directory: directory(platform(synced("p1", alice)), ownedGroup("pg1", "g1", "Old")),
			},
			want:   []string{"group remove g1 @pg1"},
			counts: &domain.UserCounts{Unchanged: 1},
		},
	})
}

func with2(g domain.PlatformGroup, edit func(*domain.PlatformGroup)) domain.PlatformGroup {
	edit(&g)
	return g
}

// TestComputeDeterministic shuffles every input list and expects the same
// plan, on a generated tenant with drift of every kind.
func TestComputeDeterministic(t *testing.T) {
	in := generate(genConfig{
		users: 3000, groups: 12, membersPerGroup: 200,
		resync: true, changedPct: 5, deletedPct: 3, addedPct: 3, seed: 11,
	})
	drift(in)
	want, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, in, want)
	kinds := map[domain.ChangeKind]bool{}
	for _, ch := range want.Changes {
		kinds[ch.Kind] = true
	}
	for _, k := range []domain.ChangeKind{domain.KindAdd, domain.KindUpdate, domain.KindReactivate, domain.KindDeactivate, domain.KindSkip, domain.KindRemove} {
		if !kinds[k] {
			t.Errorf("generated plan has no %s change: the test would not exercise it", k)
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		shuffled := shuffledCopy(in, rng)
		got, err := Compute(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got.Changes), len(want.Changes)) {
				if !reflect.DeepEqual(got.Changes[i], want.Changes[i]) {
					t.Fatalf("round %d: change %d differs:\n got %s\nwant %s", round, i, summary(got.Changes[i]), summary(want.Changes[i]))
				}
			}
			t.Fatalf("round %d: plans differ (%d vs %d changes, counts %+v vs %+v)", round, len(got.Changes), len(want.Changes), got.Counts, want.Counts)
		}
	}
}

// drift adds, to a generated resync input, the cases a plain drift lacks:
// reactivations, skips, manual users to link, a removed group.
func drift(in domain.PlanInput) {
	pus := in.Directory.Users
	for i := 0; i < len(pus); i += 97 {
		pus[i].Status, pus[i].DeactivatedBySync = domain.StatusInactive, true
	}
	for i := 5; i < len(pus); i += 211 {
		pus[i].Source, pus[i].ExternalID, pus[i].ExternalTenantID = domain.SourceManual, "", ""
	}
	src := in.Snapshot.Users
	for i := 3; i+1 < len(src); i += 401 {
		src[i+1].Mail = strings.ToUpper(sourceEmail(&src[i]))
	}
	src[7].Mail, src[7].UserPrincipalName = "", "nobody"
	stale := ownedGroup("g-stale", "stale", "Stale")
	stale.ExternalTenantID = in.Snapshot.DirectoryTenantID
	in.Directory.Groups = append(in.Directory.Groups, stale)
	in.Directory.Groups[0].MemberIDs = append(in.Directory.Groups[0].MemberIDs, "p-unknown")
}

func shuffledCopy(in domain.PlanInput, rng *rand.Rand) domain.PlanInput {
	snap := *in.Snapshot
	snap.Users = slices.Clone(snap.Users)
	snap.Groups = slices.Clone(snap.Groups)
	dir := *in.Directory
	dir.Users = slices.Clone(dir.Users)
	dir.Groups = slices.Clone(dir.Groups)
	rng.Shuffle(len(snap.Users), func(i, j int) { snap.Users[i], snap.Users[j] = snap.Users[j], snap.Users[i] })
	rng.Shuffle(len(snap.Groups), func(i, j int) { snap.Groups[i], snap.Groups[j] = snap.Groups[j], snap.Groups[i] })
	rng.Shuffle(len(dir.Users), func(i, j int) { dir.Users[i], dir.Users[j] = dir.Users[j], dir.Users[i] })
	rng.Shuffle(len(dir.Groups), func(i, j int) { dir.Groups[i], dir.Groups[j] = dir.Groups[j], dir.Groups[i] })
	out := in
	out.Snapshot, out.Directory = &snap, &dir
	return out
}

// TestComputeParallelMatchesSequential runs a tenant large enough for the
// parallel phases with one core and with several (three workers: an odd
// number of sorted runs to merge) and expects the same plan. Under -race it
// is also the test of the concurrent code.
func TestComputeParallelMatchesSequential(t *testing.T) {
	users := 3*minParallelWork + 1000
	in := generate(genConfig{
		users: users, groups: 4, membersPerGroup: users / 3,
		resync: true, changedPct: 2, deletedPct: 1, addedPct: 40, seed: 5,
	})
	drift(in)
	in.Snapshot.Users[10].ID = "not-a-guid" // one id joined as a string
	in.Directory.Users[10].ExternalID = "not-a-guid"

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	sequential, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GOMAXPROCS(4)
	if w := workerCount(users); w < 3 {
		t.Fatalf("workerCount(%d) = %d: the test would not run in parallel", users, w)
	}
	concurrent, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, in, concurrent)
	if !reflect.DeepEqual(sequential, concurrent) {
		t.Fatalf("parallel plan differs: counts %+v vs %+v", concurrent.Counts, sequential.Counts)
	}
	if concurrent.Counts.Users.Add < users/4 || concurrent.Counts.Users.Unchanged < users/2 {
		t.Fatalf("counts %+v: the test tenant lacks the adds and matches it is meant to sort and join", concurrent.Counts.Users)
	}
}

// TestComputeDoesNotModifyInput guards the promise that Compute is pure.
func TestComputeDoesNotModifyInput(t *testing.T) {
	in := generate(genConfig{users: 500, groups: 5, membersPerGroup: 50, resync: true, changedPct: 10, deletedPct: 5, addedPct: 5, seed: 3})
	drift(in)
	in.Directory.Groups[1].MemberIDs = []string{"p9", "p1", "p1"} // unsorted, repeated
	before := deepCopy(in)
	if _, err := Compute(in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.Snapshot, before.Snapshot) || !reflect.DeepEqual(in.Directory, before.Directory) {
		t.Fatal("Compute modified its input")
	}
}

func deepCopy(in domain.PlanInput) domain.PlanInput {
	snap := *in.Snapshot
	snap.Users = slices.Clone(snap.Users)
	for i := range snap.Users {
		snap.Users[i].Values = slices.Clone(snap.Users[i].Values)
	}
	snap.Groups = slices.Clone(snap.Groups)
	for i := range snap.Groups {
		snap.Groups[i].MemberIDs = slices.Clone(snap.Groups[i].MemberIDs)
	}
	dir := *in.Directory
	dir.Users = slices.Clone(dir.Users)
	for i := range dir.Users {
		dir.Users[i].Attributes = slices.Clone(dir.Users[i].Attributes)
	}
	dir.Groups = slices.Clone(dir.Groups)
	for i := range dir.Groups {
		dir.Groups[i].MemberIDs = slices.Clone(dir.Groups[i].MemberIDs)
	}
	out := in
	out.Snapshot, out.Directory = &snap, &dir
	return out
}

func TestUsableEmail(t *testing.T) {
	tests := []struct {
		email string
		want  bool
	}{
		{"alice@example.com", true},
		{"Alice.O'Neil+tag@Example.co.uk", true},
		{"élodie@exemple.fr", true},
		{"", false},
		{"alice", false},
		{"@example.com", false},
		{"alice@", false},
		{"a@b@example.com", false},
		{"alice smith@example.com", false},
		{"alice\t@example.com", false},
		{"alice\u00a0x@example.com", false},
		{"alice_example.com#EXT#@tenant.onmicrosoft.com", false},
		{"alice_example.com#ext#@tenant.onmicrosoft.com", false},
		{"alice#1@example.com", true},
		{"bad\xffutf8@example.com", false},
	}
	for _, tc := range tests {
		if got := usableEmail(tc.email); got != tc.want {
			t.Errorf("usableEmail(%q) = %v, want %v", tc.email, got, tc.want)
		}
	}
}

// emailFormCases are emails whose fast forms (emailText, emailPrefix,
// compareEmails) are easy to get wrong: non-ASCII anywhere, a combining
// mark right after the packed prefix or right after a differing byte, and
// look-alikes of ASCII letters.
var emailFormCases = []string{
	"", "a@b.c", "A@B.C", "alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com ",
	"ÉLODIE@exemple.fr", "élodie@exemple.fr", "e\u0301lodie@exemple.fr", "E\u0301lodie@exemple.fr",
	"Ǆemal@x.org", "ǆemal@x.org", "K\u212Aelvin@x.org", "kkelvin@x.org",
	"sam@x.org", "ſam@x.org", "SAM@x.org", "ipek@x.org", "İpek@x.org", "ıpek@x.org", "Ａlice@x.org", "ａlice@x.org",
	"H\u0331@x.org", "h\u0331@x.org", "\u1e96@x.org", "=\u0338@x.org", "\u2260@x.org",
	"a-very-long-address.with.many.parts@subdomain.example.com",
	"A-VERY-LONG-ADDRESS.WITH.MANY.PARTS@SUBDOMAIN.EXAMPLE.COM",
	"abcdefghijklmnopqrstuvwxyz0123456789ABC", // exactly 39 bytes
	"abcdefghijklmnopqrstuvwxyz0123456789ABCD",
	"abcdefghijklmnopqrstuvwxyz0123456789AB\u0301", // composes into 39 bytes... of 40
	"abc", "abc\x00", "abcdefgh", "abcdefghi", "same.prefix.for.24.bytes.a@x", "same.prefix.for.24.bytes.b@x",
	"aaaaaaaaaaaaaaaaaaaaaaae\u0301@x", "aaaaaaaaaaaaaaaaaaaaaaaf@x", "aaaaaaaaaaaaaaaaaaaaaaaé@x",
	"e\u0301@x", "f@x", "é@x", "ab\u0301", "ac",
}

// TestEmailNormalisation checks the allocation-free email forms against
// the one definition, domain.NormalizeEmail.
func TestEmailNormalisation(t *testing.T) {
	for _, a := range emailFormCases {
		for _, b := range emailFormCases {
			checkEmailForms(t, a, b)
		}
	}
}

// FuzzEmailForms holds the fast forms to domain.NormalizeEmail on any pair
// of emails.
func FuzzEmailForms(f *testing.F) {
	for i, a := range emailFormCases {
		f.Add(a, emailFormCases[(i+1)%len(emailFormCases)])
	}
	f.Fuzz(checkEmailForms)
}

func checkEmailForms(t *testing.T, a, b string) {
	t.Helper()
	na, nb := domain.NormalizeEmail(a), domain.NormalizeEmail(b)
	if na == "" {
		if _, _, kind := emailText(a); kind != noKey {
			t.Errorf("emailText(%q) has a key, but the email is empty", a)
		}
	} else if got, want := keyOf(emailText(a)), keyOf(exactText(na)); got != want {
		t.Errorf("emailText(%q) = %v, want the key of %q", a, got, na)
	}
	var want [prefixWords]uint64
	for i := range prefixWords * 8 {
		var c byte
		if i < len(na) {
			c = na[i]
		}
		want[i/8] = want[i/8]<<8 | uint64(c)
	}
	if got := emailPrefix(a); got != want {
		t.Errorf("emailPrefix(%q) = %x, want the first 24 bytes of %q: %x", a, got, na, want)
	}
	order := strings.Compare(na, nb)
	if got := sign(compareEmails(a, b)); got != order {
		t.Errorf("compareEmails(%q, %q) = %d, want %d (%q vs %q)", a, b, got, order, na, nb)
	}
	pa, pb := emailPrefix(a), emailPrefix(b)
	if d := slices.Compare(pa[:], pb[:]); d != 0 && d != order {
		t.Errorf("prefix order of %q, %q = %d, string order %d", a, b, d, order)
	}
	if na != "" && nb != "" && (keyOf(emailText(a)) == keyOf(emailText(b))) != (order == 0) {
		t.Errorf("emailText(%q) == emailText(%q) disagrees with the normalised strings", a, b)
	}
}

// joinKeyOf is a key in one comparable form, whichever way it was packed.
type joinKeyOf[K comparable] struct {
	key  K
	s    string
	kind keyKind
}

func keyOf[K comparable](k K, s string, kind keyKind) joinKeyOf[K] {
	return joinKeyOf[K]{k, s, kind}
}

func TestIDKey(t *testing.T) {
	ids := []string{
		"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f1",
		"1b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0",
		"0b1c2d3e+4f50-6172-8394-a5b6c7d8e9f0", "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f", "s1", "",
		"ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000",
	}
	for _, a := range ids {
		for _, b := range ids {
			if (keyOf(idKey(a)) == keyOf(idKey(b))) != (a == b) {
				t.Errorf("idKey(%q) == idKey(%q) disagrees with string equality", a, b)
			}
		}
	}
	if _, _, kind := idKey(ids[0]); kind != packedKey {
		t.Errorf("a canonical object id is not packed")
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
