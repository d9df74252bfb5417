package domain

import (
	"cmp"
	"slices"
)

// upnCharacters are the characters the local part of a userPrincipalName
// may contain, and so begin with: A-Z, a-z, 0-9 and ' . - _ ! # ^ ~
// (Microsoft's "username contains a special character" article for
// Microsoft 365 and Entra ID). Graph's startswith compares
// case-insensitively, so one partition per letter covers both cases.
var upnCharacters = []string{
	"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
	"n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
	"'", ".", "-", "_", "!", "#", "^", "~",
}

// UPNInitials are the first-level partitions of a partitioned users read,
// one per character a userPrincipalName may begin with (a fresh copy).
// Both the Entra reader and the raw floor of the benchmarks read them.
func UPNInitials() []string { return slices.Clone(upnCharacters) }

// SubPartitions splits the partition of the users whose userPrincipalName
// starts with prefix by the next character: every character a local part
// may contain, and "@" for the users whose local part is prefix itself
// (j@contoso.com under "j"). Together they list what prefix lists, as long
// as every UPN keeps to the characters Entra ID allows (the read's count
// check catches one that does not).
func SubPartitions(prefix string) []string {
	out := make([]string, 0, len(upnCharacters)+1)
	for _, c := range upnCharacters {
		out = append(out, prefix+c)
	}
	return append(out, prefix+"@")
}

// UserPartitioning is the shape of a partitioned users read: PageSize
// users a page ($top) and Workers partitions paged at once. A partitioned
// read takes as long as its largest partition, so before reading, a large
// tenant counts each initial's users (a filtered $count each) and splits
// the partitions far larger than the rest by their second character.
type UserPartitioning struct {
	PageSize int
	Workers  int
}

// pages is how many pages n users take.
func (p UserPartitioning) pages(n int) int {
	size := max(p.PageSize, 1)
	return (max(n, 0) + size - 1) / size
}

// CountsInitials reports whether a read of total users (Graph's users
// $count) counts its initials before reading. Only a tenant of more pages
// than Workers does: below that every worker's fair share is one page,
// which no split can shorten, and the whole read takes a couple of pages'
// time (10,000 users: 11 pages, the largest initial two), less than the
// counting itself would add (UPNInitials' counts, Workers at a time, and
// then the split's 45 sub-partitions a piece, mostly empty). Such a
// tenant is read in the initials as before, with no extra request.
func (p UserPartitioning) CountsInitials(total int) bool {
	return p.pages(total) > max(p.Workers, 1)
}

// SplitAbove is how many users a partition may hold before it is split:
// the pages a worker would page if the tenant's pages were shared out
// evenly (its pages over Workers, rounded up), as users: 1,002 pages / 16,
// 63 pages or 62,937 users, at a million users. A partition above it
// alone would outlast the evenly shared read; one at or below it ends by
// then. Splitting
// smaller ones would only add requests (45 sub-partitions, most of them
// one empty page). It is at least one page.
func (p UserPartitioning) SplitAbove(total int) int {
	perWorker := (p.pages(total) + max(p.Workers, 1) - 1) / max(p.Workers, 1)
	return max(perWorker, 1) * max(p.PageSize, 1)
}

// Partitions lists the userPrincipalName prefixes to read, given Graph's
// total users count and counts, the users $count of each of UPNInitials
// (aligned with it; nil when not counted, see CountsInitials). Without
// counts they are UPNInitials. With them, every initial above SplitAbove
// is replaced by its SubPartitions, and the partitions come largest first
// (the longest work started first, the usual rule for sharing jobs out
// among workers): the sub-partitions of the split initials, the largest
// initial's first, then the other initials by count, ties in UPNInitials'
// order. The counts only shape the read: it is still checked against the
// total, and they may trail it (Graph's counts are eventually consistent).
func (p UserPartitioning) Partitions(total int, counts []int) []string {
	initials := UPNInitials()
	if len(counts) != len(initials) {
		return initials
	}
	limit := p.SplitAbove(total)
	type counted struct {
		prefix string
		n      int
	}
	var split, whole []counted
	for i, c := range initials {
		if counts[i] > limit {
			split = append(split, counted{c, counts[i]})
		} else {
			whole = append(whole, counted{c, counts[i]})
		}
	}
	byCount := func(a, b counted) int { return cmp.Compare(b.n, a.n) }
	slices.SortStableFunc(split, byCount)
	slices.SortStableFunc(whole, byCount)
	out := make([]string, 0, len(whole)+len(split)*(len(upnCharacters)+1))
	for _, s := range split {
		out = append(out, SubPartitions(s.prefix)...)
	}
	for _, w := range whole {
		out = append(out, w.prefix)
	}
	return out
}
