package plan

import (
	"slices"
	"strings"

	"dirsync/internal/domain"
)

// attrPlan is the attribute mapping resolved once against the snapshot's
// property list, so per-user work is slice indexing only.
type attrPlan struct {
	mapping []domain.Mapping
	// prop[k] is the index in Snapshot.UserProperties of mapping[k].Source,
	// or -1 when the snapshot did not read it (its value is then "").
	prop []int
	// byName lists mapping indices in attribute-name order: the order of
	// domain.Attrs, which lets a comparison walk both lists once.
	byName []int
	// output is byName with emailSlot (the email attribute) in its place.
	output []int
	// displayNameProp is the index of displayName in UserProperties, -1
	// when not read; displayNameAttr the platform attribute mapped from it.
	displayNameProp int
	displayNameAttr string
}

// emailSlot stands for the email attribute in attrPlan.output.
const emailSlot = -1

func newAttrPlan(mapping []domain.Mapping, properties []string) attrPlan {
	propIndex := func(name string) int {
		return slices.Index(properties, name)
	}
	a := attrPlan{
		mapping:         mapping,
		prop:            make([]int, len(mapping)),
		byName:          make([]int, len(mapping)),
		displayNameProp: propIndex("displayName"),
		displayNameAttr: "displayName",
	}
	for k, m := range mapping {
		a.prop[k] = propIndex(m.Source)
		a.byName[k] = k
	}
	for _, m := range mapping {
		if m.Source == "displayName" {
			a.displayNameAttr = m.Attribute
			break
		}
	}
	name := func(k int) string {
		if k == emailSlot {
			return domain.EmailAttribute
		}
		return mapping[k].Attribute
	}
	byName := func(x, y int) int { return strings.Compare(name(x), name(y)) }
	slices.SortFunc(a.byName, byName)
	a.output = append(slices.Clone(a.byName), emailSlot)
	slices.SortFunc(a.output, byName)
	return a
}

// value returns the source value of mapping entry k for u.
func (a *attrPlan) value(u *domain.SourceUser, k int) string {
	if j := a.prop[k]; j >= 0 && j < len(u.Values) {
		return u.Values[j]
	}
	return ""
}

// displayName returns the source user's display name, "" when not read.
func (a *attrPlan) displayName(u *domain.SourceUser) string {
	if j := a.displayNameProp; j >= 0 && j < len(u.Values) {
		return u.Values[j]
	}
	return ""
}

// equal reports whether every mapped attribute of u has the same value on
// the platform (an absent attribute counts as ""). Attributes the mapping
// does not name are not the sync's business and are ignored.
func (a *attrPlan) equal(u *domain.SourceUser, have domain.Attrs) bool {
	if !attrsSorted(have) {
		// Not the shape the stores keep, but stay correct: look each up.
		for k, m := range a.mapping {
			cur, _ := have.Get(m.Attribute)
			if cur != a.value(u, k) {
				return false
			}
		}
		return true
	}
	j := 0
	for _, k := range a.byName {
		name := a.mapping[k].Attribute
		cur := ""
		for j < len(have) {
			d := strings.Compare(have[j].Name, name)
			if d < 0 {
				j++
				continue
			}
			if d == 0 {
				cur = have[j].Value
				j++
			}
			break
		}
		if cur != a.value(u, k) {
			return false
		}
	}
	return true
}

func attrsSorted(have domain.Attrs) bool {
	for i := 1; i < len(have); i++ {
		if have[i].Name < have[i-1].Name {
			return false
		}
	}
	return true
}

// fields lists u's attribute differences from the platform user in mapping
// order, appended to dst.
func (a *attrPlan) fields(dst []domain.FieldChange, u *domain.SourceUser, have domain.Attrs) []domain.FieldChange {
	for k, m := range a.mapping {
		cur, _ := have.Get(m.Attribute)
		if want := a.value(u, k); cur != want {
			dst = append(dst, domain.FieldChange{Name: m.Attribute, Before: cur, After: want})
		}
	}
	return dst
}

// attrSlab hands out attribute lists carved from large shared chunks: a
// million added users cost a few hundred allocations instead of a million.
type attrSlab struct {
	buf []domain.Attr
}

// slabChunk is the number of attributes per chunk (1 MiB of Attr headers).
const slabChunk = 1 << 15

// desired returns the complete attribute set a change writes for u: the
// mapped values plus the email, name-sorted, empty values omitted.
func (a *attrPlan) desired(s *attrSlab, u *domain.SourceUser, email string) domain.Attrs {
	if cap(s.buf)-len(s.buf) < len(a.output) {
		s.buf = make([]domain.Attr, 0, max(slabChunk, len(a.output)))
	}
	start := len(s.buf)
	for _, k := range a.output {
		var at domain.Attr
		if k == emailSlot {
			at = domain.Attr{Name: domain.EmailAttribute, Value: email}
		} else {
			at = domain.Attr{Name: a.mapping[k].Attribute, Value: a.value(u, k)}
		}
		if at.Value != "" {
			s.buf = append(s.buf, at)
		}
	}
	if len(s.buf) == start {
		return nil
	}
	// The full slice expression keeps a caller's append from writing into
	// the next user's attributes.
	return s.buf[start:len(s.buf):len(s.buf)]
}
