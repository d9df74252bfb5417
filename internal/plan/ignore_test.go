package plan

import (
	"reflect"
	"testing"

	"dirsync/internal/domain"
)

// TestComputeIgnoredUsers: the connection's ignoredUsers are left out of
// every change (add, update, link, reactivate, deactivate, memberships),
// listed as skips with reason ignored_by_admin and counted as ignored.
func TestComputeIgnoredUsers(t *testing.T) {
	alice := srcUser("s1", "alice@example.com", "Alice")
	bob := srcUser("s2", "bob@example.com", "Bob")
	carol := srcUser("s3", "carol@example.com", "Carol")
	renamed := srcUser("s2", "bob@example.com", "Robert") // bob, renamed in Entra ID
	ignore := func(ids ...string) domain.Options { return domain.Options{IgnoredUsers: ids} }
	opts := func(o domain.Options, edit func(*domain.Options)) domain.Options { edit(&o); return o }

	runPlanCases(t, []planCase{
		{
			name:   "an ignored new user is not added",
			in:     domain.PlanInput{Snapshot: snapshot(users(alice, bob)), Options: ignore("s2")},
			want:   []string{"user add s1 <alice@example.com>", "user skip s2 <bob@example.com> (ignored_by_admin)"},
			counts: &domain.UserCounts{Add: 1, Ignored: 1},
		},
		{
			name: "an ignored linked user changed in Entra ID is not updated; the skip names the platform user left alone",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(alice, renamed)),
				Directory: directory(platform(synced("p1", alice), synced("p2", bob))),
				Options:   ignore("s2"),
			},
			want:   []string{"user skip s2 <bob@example.com> @p2 (ignored_by_admin)"},
			counts: &domain.UserCounts{Unchanged: 1, Ignored: 1},
		},
		{
			name: "an ignored linked user gone from the source is not deactivated, nor counted in the safeguard's base",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(alice)),
				Directory: directory(platform(synced("p1", alice), synced("p2", bob), synced("p3", carol))),
				Options:   opts(ignore("s2"), func(o *domain.Options) { o.DeactivateMissing = true }),
			},
			want: []string{
				"user deactivate s3 <carol@example.com> @p3 (deleted) {status:active>inactive}",
				"user skip s2 <bob@example.com> @p2 (ignored_by_admin)",
			},
			counts: &domain.UserCounts{Deactivate: 1, Unchanged: 1, Ignored: 1},
			check: func(t *testing.T, p *domain.Plan) {
				// 1 of the 2 users the sync may deactivate (bob is out of its reach).
				if p.Bases.ActiveLinked != 2 || p.Safeguards[0].Actual != 50 || !p.Safeguards[0].Tripped {
					t.Errorf("bases %+v, safeguard %+v; want 2 active linked, 50 %% tripped", p.Bases, p.Safeguards[0])
				}
			},
		},
		{
			name: "ignored users disabled or out of scope are not deactivated, and not counted out of scope",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(alice, disabled(bob), guest(carol))),
				Directory: directory(platform(synced("p1", alice), synced("p2", bob), synced("p3", carol))),
				Options:   opts(ignore("s2", "s3"), func(o *domain.Options) { o.DeactivateMissing = true }),
			},
			want: []string{
				"user skip s2 <bob@example.com> @p2 (ignored_by_admin)",
				"user skip s3 <carol@example.com> @p3 (ignored_by_admin)",
			},
			counts: &domain.UserCounts{Unchanged: 1, Ignored: 2},
		},
		{
			name: "deactivateMissing off: an ignored user gone from the source is not in the left-active warning",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(alice)),
				Directory: directory(platform(synced("p1", alice), synced("p2", bob), synced("p3", carol))),
				Options:   ignore("s2"),
			},
			want:   []string{"user skip s2 <bob@example.com> @p2 (ignored_by_admin)"},
			counts: &domain.UserCounts{Unchanged: 1, Ignored: 1},
			warn:   []string{"1 linked users are no longer in scope"},
		},
		{
			name: "an ignored user the sync deactivated is not reactivated",
			in: domain.PlanInput{
				Snapshot: snapshot(users(bob)),
				Directory: directory(platform(with(synced("p2", bob), func(p *domain.PlatformUser) {
					p.Status, p.DeactivatedBySync = domain.StatusInactive, true
				}))),
				Options: ignore("s2"),
			},
			want:   []string{"user skip s2 <bob@example.com> @p2 (ignored_by_admin)"},
			counts: &domain.UserCounts{Ignored: 1},
		},
		{
			name: "an ignored user does not link a manual user by email",
			in: domain.PlanInput{
				Snapshot:  snapshot(users(bob)),
				Directory: directory(platform(manualUser("m1", "bob@example.com"))),
				Options:   ignore("s2"),
			},
			want:   []string{"user skip s2 <bob@example.com> (ignored_by_admin)"},
			counts: &domain.UserCounts{Ignored: 1},
		},
		{
			name: "an ignored user takes no part in duplicate detection",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice, withMail(srcUser("s9", "twin@example.com", "Twin"), "alice@example.com"))),
				Options:  ignore("s9"),
			},
			want:   []string{"user add s1 <alice@example.com>", "user skip s9 <alice@example.com> (ignored_by_admin)"},
			counts: &domain.UserCounts{Add: 1, Ignored: 1},
		},
		{
			name: "ignored users' memberships are not changed: kept where held, never added",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice, renamed, carol),
					domain.SourceGroup{ID: "g1", DisplayName: "Team", MemberIDs: []string{"s1", "s3"}},
					domain.SourceGroup{ID: "g2", DisplayName: "New", MemberIDs: []string{"s1", "s2", "s3"}},
				),
				// bob is in Team on the platform although no longer in Entra ID;
				// carol (ignored, new) would join both groups.
				Directory: directory(platform(synced("p1", alice), synced("p2", bob)),
					ownedGroup("pg1", "g1", "Team", "p2")),
				Options: ignore("s2", "s3"),
			},
			want: []string{
				"user skip s2 <bob@example.com> @p2 (ignored_by_admin)",
				"user skip s3 <carol@example.com> (ignored_by_admin)",
				"group add g2 +[u:p1]",
				"group update g1 @pg1 +[u:p1]",
			},
			counts: &domain.UserCounts{Unchanged: 1, Ignored: 2},
		},
		{
			name: "an ignored id gone from the source keeps its platform user's memberships",
			in: domain.PlanInput{
				Snapshot: snapshot(users(alice),
					domain.SourceGroup{ID: "g1", DisplayName: "Team", MemberIDs: []string{"s1"}}),
				Directory: directory(platform(synced("p1", alice), synced("p2", bob)),
					ownedGroup("pg1", "g1", "Team", "p1", "p2")),
				Options: ignore("s2"),
			},
			want:   []string{"user skip s2 <bob@example.com> @p2 (ignored_by_admin)"},
			counts: &domain.UserCounts{Unchanged: 1, Ignored: 1},
			warn:   []string{}, // p2 is ignored, so not "left active"
		},
		{
			name: "object ids are compared case-insensitively",
			in: domain.PlanInput{
				Snapshot: snapshot(users(
					srcUser("0b7e5a4c-1111-4c2e-9a5b-00000000000a", "alice@example.com", "Alice"),
					srcUser("0B7E5A4C-2222-4C2E-9A5B-00000000000B", "bob@example.com", "Bob"),
				)),
				Options: ignore("0B7E5A4C-1111-4C2E-9A5B-00000000000A", " 0b7e5a4c-2222-4c2e-9a5b-00000000000b "),
			},
			want: []string{
				"user skip 0b7e5a4c-1111-4c2e-9a5b-00000000000a <alice@example.com> (ignored_by_admin)",
				"user skip 0B7E5A4C-2222-4C2E-9A5B-00000000000B <bob@example.com> (ignored_by_admin)",
			},
			counts: &domain.UserCounts{Ignored: 2},
		},
		{
			name:   "an ignored id that names nobody changes nothing",
			in:     domain.PlanInput{Snapshot: snapshot(users(alice)), Options: ignore("s404")},
			want:   []string{"user add s1 <alice@example.com>"},
			counts: &domain.UserCounts{Add: 1},
		},
	})
}

// TestIgnoreSet: membership is case-insensitive in both directions, for
// ids in GUID form (packed) and in any other form.
func TestIgnoreSet(t *testing.T) {
	s := newIgnoreSet([]string{"0B7E5A4C-1111-4C2E-9A5B-00000000000A", "Legacy-Id", " ", ""})
	tests := []struct {
		id   string
		want bool
	}{
		{"0b7e5a4c-1111-4c2e-9a5b-00000000000a", true},
		{"0B7E5A4C-1111-4c2e-9a5b-00000000000A", true},
		{"0b7e5a4c-1111-4c2e-9a5b-00000000000b", false},
		{"legacy-id", true},
		{"LEGACY-ID", true},
		{"", false},
	}
	for _, tc := range tests {
		if got := s.has(tc.id); got != tc.want {
			t.Errorf("has(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	if !reflect.DeepEqual(newIgnoreSet(nil), ignoreSet{}) || !newIgnoreSet([]string{" "}).empty() {
		t.Error("an empty list (or only blanks) should give an empty set")
	}
}
