package domain

import "time"

// PlanBasis is what the last cleanly applied sync leaves for re-syncs to
// plan from only what changed since.
type PlanBasis struct {
	SyncID           string         // the applied sync; its plan's mirror round
	DirectoryVersion int64          // the directory's version when that sync was planned and still when it ended
	OptionsHash      string         // domain options the plan used, hashed by the caller
	Bases            SafeguardBases // the safeguards' bases of the directory as it stands
	SavedAt          time.Time
	// LeftActive are the linked users that sync's plan left active
	// (deactivateMissing off): no change lists them, so a re-sync covers
	// them from here.
	LeftActive []string
	// Applying: that sync was confirmed and its apply has not ended
	// cleanly yet; nothing can be planned from the basis until it has.
	Applying bool
}

// DirectoryPart names the part of a tenant's platform directory a plan from the changes needs.
type DirectoryPart struct {
	DirectoryTenantID string   // the Entra tenant the ExternalIDs belong to
	ExternalIDs       []string // platform users linked to these Entra object ids (their link claims)
	Emails            []string // platform users holding these emails (their email claims; normalize with domain.NormalizeEmail)
	UserIDs           []string // platform users by id
	FullGroups        []string // platform group ids whose every member is wanted
}
