package domain

import "time"

// PlanBasis is what the last cleanly applied sync leaves for re-syncs to
// plan from only what changed since.
type PlanBasis struct {
	SyncID           string         // the applied sync; its plan's mirror round
	DirectoryVersion int64          // the directory's version when that sync was planned and still when it ended
	OptionsHash      string         // domain options the plan used, hashed by the caller
	Bases            SafeguardBases // the safeguards' bases after that sync applied
	SavedAt          time.Time
}
