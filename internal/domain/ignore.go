package domain

// MaxIgnoredUsersPerEdit bounds one edit of the ignored users (POST
// /v1/connection/ignored-users), so that its body stays within the API's
// 64 KiB: reaching MaxIgnoredUsers takes ten edits of a thousand.
const MaxIgnoredUsersPerEdit = 1000

// EditIgnoredUsers returns the ignored users after ignoring (ignore true)
// or no longer ignoring the given ids, and how many of them changed state.
// Ids already in the state asked for are no error: two admins ignoring the
// same user, or a console retrying, agree. The order of the list is kept
// and new ids go at its end. Ids must be normalized (lower case) and
// unique. Taking the list past MaxIgnoredUsers is refused as a whole
// (EUnprocessable), so an edit is never half applied.
func EditIgnoredUsers(current, ids []string, ignore bool) ([]string, int, error) {
	have := make(map[string]bool, len(current))
	for _, id := range current {
		have[id] = true
	}
	if ignore {
		next := current[:len(current):len(current)] // appending never writes into the caller's array
		for _, id := range ids {
			if !have[id] {
				have[id] = true
				next = append(next, id)
			}
		}
		if len(next) > MaxIgnoredUsers {
			return current, 0, Errorf(EUnprocessable, "at most %d users can be ignored: %d are, and this adds %d more; stop ignoring some first",
				MaxIgnoredUsers, len(current), len(next)-len(current))
		}
		return next, len(next) - len(current), nil
	}
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		if have[id] {
			drop[id] = true
		}
	}
	if len(drop) == 0 {
		return current, 0, nil
	}
	next := make([]string, 0, len(current)-len(drop))
	for _, id := range current {
		if !drop[id] {
			next = append(next, id)
		}
	}
	return next, len(drop), nil
}
