package fakeentra

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Application permissions that allow each kind of read.
var (
	userReadRoles  = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	groupReadRoles = []string{"Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All", "GroupMember.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	orgReadRoles   = []string{"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

// unsupportedOptions are OData query options the fake refuses rather than
// silently ignoring, so a client relying on them notices.
var unsupportedOptions = []string{"filter", "search", "orderby", "skip", "apply", "compute"}

const odataContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// graphRequest is one authorised Graph request.
type graphRequest struct {
	s  *Server
	w  http.ResponseWriter
	r  *http.Request
	q  query
	st *tenantState
	// fault is a page or count fault to apply to the answer, or nil.
	fault *Fault
	// ex receives what the answer returned.
	ex *exchange
}

// faulty reports whether the request carries a fault of kind k.
func (gr *graphRequest) faulty(k FaultKind) bool {
	return gr.fault != nil && gr.fault.Kind == k
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, q query, rest string, fault *Fault, ex *exchange) {
	if r.Method != http.MethodGet {
		s.writeODataError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.")
		return
	}
	g, msg, ok := s.authorize(r)
	if !ok {
		s.writeUnauthorized(w, r, msg)
		return
	}
	st := s.tenant(g.tenantID)
	if st == nil {
		s.writeUnauthorized(w, r, "Access token has expired or is not yet valid.")
		return
	}
	if m := s.GraphModel(); m.Throttle {
		_, base := classify(rest)
		cost := requestCost(base, q)
		wait, ok := s.charge(m, g.clientID, st, cost)
		if !ok {
			ex.throttled = true
			s.writeThrottled(w, r, wait, g.clientID, st.id)
			return
		}
		ex.cost = cost
		w.Header().Set("x-ms-resource-unit", strconv.Itoa(cost))
	}
	for _, opt := range unsupportedOptions {
		// The user and group listings filter (filter.go), and so does the
		// users $count.
		if listing := strings.TrimSuffix(rest, "/"); opt == "filter" && (listing == "groups" || listing == "users" || listing == "users/$count") {
			continue
		}
		if _, present := q.get(opt); present {
			s.writeODataError(w, r, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported query option '$"+opt+"'.")
			return
		}
	}
	gr := &graphRequest{s: s, w: w, r: r, q: q, st: st, fault: fault, ex: ex}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	counting := len(segs) > 1 && segs[len(segs)-1] == "$count"
	switch segs[0] {
	case "users":
		if !hasAnyRole(g.roles, userReadRoles) {
			gr.forbidden()
			return
		}
		switch {
		case counting && len(segs) == 2:
			gr.countUsers()
		case len(segs) == 1:
			gr.listUsers()
		case len(segs) == 2 && isDeltaSegment(segs[1]):
			gr.userDelta()
		case len(segs) == 2:
			gr.getUser(segs[1])
		case len(segs) == 3 && segs[2] == "manager":
			gr.getManager(segs[1])
		default:
			gr.unknownSegment(segs[len(segs)-1])
		}
	case "groups":
		if !hasAnyRole(g.roles, groupReadRoles) {
			gr.forbidden()
			return
		}
		switch {
		case counting && len(segs) == 2:
			gr.countGroups()
		case counting && (len(segs) == 4 || len(segs) == 5) && (segs[2] == "members" || segs[2] == "transitiveMembers"):
			cast := ""
			if len(segs) == 5 {
				cast = segs[3]
			}
			gr.countMembers(segs[1], segs[2] == "transitiveMembers", cast)
		case len(segs) == 1:
			gr.listGroups()
		case len(segs) == 2 && isDeltaSegment(segs[1]):
			gr.groupDelta()
		case len(segs) == 2:
			gr.getGroup(segs[1])
		case (len(segs) == 3 || len(segs) == 4) && (segs[2] == "members" || segs[2] == "transitiveMembers"):
			cast := ""
			if len(segs) == 4 {
				cast = segs[3]
			}
			gr.listMembers(segs[1], segs[2] == "transitiveMembers", cast)
		default:
			gr.unknownSegment(segs[len(segs)-1])
		}
	case "organization":
		if !hasAnyRole(g.roles, orgReadRoles) {
			gr.forbidden()
			return
		}
		if len(segs) != 1 {
			gr.unknownSegment(segs[len(segs)-1])
			return
		}
		gr.organization()
	default:
		gr.unknownSegment(segs[0])
	}
}

func isDeltaSegment(seg string) bool {
	switch seg {
	case "delta()", "delta", "microsoft.graph.delta()", "microsoft.graph.delta":
		return true
	}
	return false
}

func hasAnyRole(granted, accepted []string) bool {
	for _, r := range granted {
		for _, a := range accepted {
			if strings.EqualFold(r, a) {
				return true
			}
		}
	}
	return false
}

// managerExpand is a parsed $expand=manager($select=...).
type managerExpand struct {
	props   []userProp
	manager func(id string) *User
}

// userSelection is a parsed $select (and $expand) for users.
type userSelection struct {
	props   []userProp
	context string // "(a,b)" for @odata.context, "" without $select
	expand  *managerExpand
}

// parseUserSelect parses $select for users into the properties to return
// (id always among them) and the "(a,b)" suffix of @odata.context; errMsg
// is set for an unknown property.
func parseUserSelect(raw string, present bool) (props []userProp, ctx, errMsg string) {
	if !present {
		return defaultUserProps, "", ""
	}
	props = []userProp{upID}
	names := make([]string, 0, 8)
	for name := range strings.SplitSeq(raw, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		p, ok := userPropByName[strings.ToLower(name)]
		if !ok {
			return nil, "", "Could not find a property named '" + name + "' on type 'microsoft.graph.user'."
		}
		names = append(names, userPropNames[p])
		if !slices.Contains(props, p) {
			props = append(props, p)
		}
	}
	return props, "(" + strings.Join(names, ",") + ")", ""
}

func (gr *graphRequest) userSelection(allowExpand bool) (userSelection, bool) {
	raw, present := gr.q.get("select")
	props, ctx, errMsg := parseUserSelect(raw, present)
	if errMsg != "" {
		gr.badRequest(errMsg)
		return userSelection{}, false
	}
	sel := userSelection{props: props, context: ctx}
	if exp, ok := gr.q.get("expand"); ok {
		if !allowExpand {
			gr.unsupported("$expand is not supported on this resource.")
			return userSelection{}, false
		}
		me, errMsg := parseManagerExpand(exp)
		if errMsg != "" {
			gr.badRequest(errMsg)
			return userSelection{}, false
		}
		users := &gr.st.users
		me.manager = func(id string) *User {
			if id == "" {
				return nil
			}
			return users.get(id)
		}
		sel.expand = me
	}
	return sel, true
}

// parseManagerExpand accepts "manager" and "manager($select=a,b)".
func parseManagerExpand(raw string) (*managerExpand, string) {
	raw = strings.TrimSpace(raw)
	name, opts, hasOpts := strings.Cut(raw, "(")
	if !strings.EqualFold(strings.TrimSpace(name), "manager") {
		return nil, "Parsing OData Select and Expand failed: Could not find a property named '" + name + "' on type 'microsoft.graph.user'."
	}
	if !hasOpts {
		return &managerExpand{props: defaultUserProps}, ""
	}
	opts, ok := strings.CutSuffix(opts, ")")
	if !ok {
		return nil, "Parsing OData Select and Expand failed: ')' or ',' expected at position " + strconv.Itoa(len(raw)) + " in '" + raw + "'."
	}
	key, val, _ := strings.Cut(opts, "=")
	key = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(key), "$"))
	if key != "select" {
		return nil, "Parsing OData Select and Expand failed: query option '" + key + "' is not supported inside $expand."
	}
	props, _, errMsg := parseUserSelect(val, true)
	if errMsg != "" {
		return nil, errMsg
	}
	return &managerExpand{props: props}, ""
}

// pageBounds resolves $top and $skiptoken into the offset and size of the
// page to serve.
func (gr *graphRequest) pageBounds() (offset, top int, ok bool) {
	top, _, ok = requestedPageSize(gr.r, gr.q)
	if !ok {
		gr.invalidTop()
		return 0, 0, false
	}
	if raw, present := gr.q.get("skiptoken"); present {
		tok, err := decodePageToken(raw)
		if err != nil {
			gr.expiredToken()
			return 0, 0, false
		}
		offset, top = tok.offset, tok.top
	}
	return offset, top, true
}

// appendLink appends an absolute link annotation (@odata.nextLink or
// @odata.deltaLink) on base (the server's URL unless a fault says
// otherwise) that repeats the request's options and carries tok.
func (gr *graphRequest) appendLink(b []byte, annotation, base, path, tokenName string, tok pageToken) []byte {
	b = append(b, `,"`...)
	b = append(b, annotation...)
	b = append(b, `":"`...)
	b = append(b, base...)
	b = append(b, "/v1.0/"...)
	b = append(b, path...)
	b = append(b, '?')
	for _, opt := range [...]string{"filter", "select", "expand", "top", "count"} {
		if v, ok := gr.q.get(opt); ok {
			b = append(b, '$')
			b = append(b, opt...)
			b = append(b, '=')
			b = appendQueryValue(b, v)
			b = append(b, '&')
		}
	}
	b = append(b, '$')
	b = append(b, tokenName...)
	b = append(b, '=')
	b = append(b, tok.encode()...)
	return append(b, '"')
}

func (gr *graphRequest) appendContext(b []byte, entitySet, selectCtx string, entity bool) []byte {
	b = append(b, `{"@odata.context":"`...)
	b = append(b, gr.s.url...)
	b = append(b, "/v1.0/$metadata#"...)
	b = append(b, entitySet...)
	b = append(b, selectCtx...) // canonical property names: nothing to escape
	if entity {
		b = append(b, "/$entity"...)
	}
	return append(b, '"')
}

func (gr *graphRequest) wantCount() bool {
	v, ok := gr.q.get("count")
	return ok && strings.EqualFold(v, "true")
}

// userFilterParam is the request's $filter on users, nil without one;
// false when it is one the fake does not serve, which it answered.
func (gr *graphRequest) userFilterParam() (*userFilter, bool) {
	raw, present := gr.q.get("filter")
	if !present {
		return nil, true
	}
	f, errMsg := parseUserFilter(raw)
	if errMsg != "" {
		gr.unsupported(errMsg)
		return nil, false
	}
	return &f, true
}

func (gr *graphRequest) listUsers() {
	sel, ok := gr.userSelection(true)
	if !ok {
		return
	}
	filter, ok := gr.userFilterParam()
	if !ok {
		return
	}
	offset, top, ok := gr.pageBounds()
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	items := st.users.items
	if filter != nil {
		items = st.usersMatching(*filter)
	}
	writeListing(gr, "users", sel.context, "users", items, offset, top, func(b []byte, u *User) []byte {
		return appendUser(b, u, sel.props, false, sel.expand)
	})
}

// writeListing writes the page of a paged listing that starts at offset:
// up to top of items, with an @odata.nextLink while more follow, altered
// by the request's page fault if it has one. The caller holds the tenant's
// read lock.
func writeListing[T any](gr *graphRequest, entitySet, selectCtx, path string, items []T, offset, top int, appendItem func([]byte, T) []byte) {
	start, end := min(offset, len(items)), min(offset+top, len(items))
	buf := getBuf()
	defer putBuf(buf)
	b := gr.appendContext(*buf, entitySet, selectCtx, false)
	if gr.wantCount() {
		b = append(b, `,"@odata.count":`...)
		b = strconv.AppendInt(b, int64(len(items)), 10)
	}
	next := pageToken{offset: end, top: top}
	base := gr.s.url
	switch {
	case gr.faulty(FaultRepeatNextLink):
		next.offset = max(start-top, 0)
	case gr.faulty(FaultForeignNextLink):
		base = cmp.Or(gr.fault.NextLinkBase, DefaultForeignNextLinkBase)
	}
	if (end < len(items) && !gr.faulty(FaultDropNextLink)) || gr.faulty(FaultRepeatNextLink) {
		b = gr.appendLink(b, "@odata.nextLink", base, path, "skiptoken", next)
	}
	if !gr.faulty(FaultNoValue) {
		gr.ex.items = end - start
		b = append(b, `,"value":[`...)
		for i, it := range items[start:end] {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendItem(b, it)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	*buf = b
	if gr.faulty(FaultTruncated) {
		b = b[:len(b)/2]
	}
	gr.writeBody(http.StatusOK, b)
}

// findUser looks a user up by id, else by userPrincipalName as Graph
// allows. The caller holds st.mu for reading.
func (st *tenantState) findUser(key string) *User {
	if u := st.users.get(key); u != nil {
		return u
	}
	if !strings.Contains(key, "@") {
		return nil
	}
	for _, u := range st.users.items {
		if strings.EqualFold(u.UserPrincipalName, key) {
			return u
		}
	}
	return nil
}

func (gr *graphRequest) getUser(key string) {
	sel, ok := gr.userSelection(true)
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	u := st.findUser(key)
	if u == nil {
		gr.notFound(key)
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	b := gr.appendContext(*buf, "users", sel.context, true)
	b = append(b, ',')
	b = appendUserMembers(b, u, sel.props, false, sel.expand)
	b = append(b, '}')
	*buf = b
	gr.ex.items = 1
	gr.writeBody(http.StatusOK, b)
}

func (gr *graphRequest) getManager(key string) {
	sel, ok := gr.userSelection(false)
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	u := st.findUser(key)
	if u == nil {
		gr.notFound(key)
		return
	}
	var m *User
	if u.ManagerID != "" {
		m = st.users.get(u.ManagerID)
	}
	if m == nil {
		gr.notFound("manager")
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	b := gr.appendContext(*buf, "directoryObjects", "", true)
	b = append(b, ',')
	b = appendUserMembers(b, m, sel.props, true, nil)
	b = append(b, '}')
	*buf = b
	gr.ex.items = 1
	gr.writeBody(http.StatusOK, b)
}

// parseGroupSelect parses $select for groups; id is always returned.
// allowMembers admits "members", which only delta queries accept.
func parseGroupSelect(raw string, present, allowMembers bool) (props []groupProp, ctx string, members bool, errMsg string) {
	if !present {
		return defaultGroupProps, "", false, ""
	}
	props = []groupProp{gpID}
	names := make([]string, 0, 8)
	for name := range strings.SplitSeq(raw, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if allowMembers && strings.EqualFold(name, "members") {
			members = true
			names = append(names, "members")
			continue
		}
		p, ok := groupPropByName[strings.ToLower(name)]
		if !ok {
			return nil, "", false, "Could not find a property named '" + name + "' on type 'microsoft.graph.group'."
		}
		names = append(names, groupPropNames[p])
		if !slices.Contains(props, p) {
			props = append(props, p)
		}
	}
	return props, "(" + strings.Join(names, ",") + ")", members, ""
}

func (gr *graphRequest) groupSelection(allowMembers bool) (props []groupProp, ctx string, members, ok bool) {
	if _, present := gr.q.get("expand"); present {
		gr.unsupported("$expand is not supported on this resource.")
		return nil, "", false, false
	}
	raw, present := gr.q.get("select")
	props, ctx, members, errMsg := parseGroupSelect(raw, present, allowMembers)
	if errMsg != "" {
		gr.badRequest(errMsg)
		return nil, "", false, false
	}
	return props, ctx, members, true
}

func (gr *graphRequest) listGroups() {
	props, ctx, _, ok := gr.groupSelection(false)
	if !ok {
		return
	}
	var filter *groupFilter
	if raw, present := gr.q.get("filter"); present {
		f, errMsg := parseGroupFilter(raw)
		if errMsg != "" {
			gr.unsupported(errMsg)
			return
		}
		filter = &f
	}
	offset, top, ok := gr.pageBounds()
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	items := st.groups.items
	if filter != nil {
		// Still in object-id order, as Graph lists a filtered collection:
		// by id, not by name.
		items = make([]*Group, 0, 16)
		for _, g := range st.groups.items {
			if filter.matches(g) {
				items = append(items, g)
			}
		}
	}
	writeListing(gr, "groups", ctx, "groups", items, offset, top, func(b []byte, g *Group) []byte {
		return appendGroup(b, g, props, false, nil, false)
	})
}

func (gr *graphRequest) getGroup(id string) {
	props, ctx, _, ok := gr.groupSelection(false)
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	g := st.groups.get(id)
	if g == nil {
		gr.notFound(id)
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	b := gr.appendContext(*buf, "groups", ctx, true)
	b = append(b, ',')
	b = appendGroupMembers(b, g, props, false, nil, false)
	b = append(b, '}')
	*buf = b
	gr.ex.items = 1
	gr.writeBody(http.StatusOK, b)
}

// memberFilter restricts a membership listing to one object type, as the
// graph.user and graph.group type casts do.
type memberFilter uint8

const (
	membersAll memberFilter = iota
	membersUsers
	membersGroups
)

func parseCast(seg string) (memberFilter, bool) {
	switch seg {
	case "":
		return membersAll, true
	case "graph.user", "microsoft.graph.user":
		return membersUsers, true
	case "graph.group", "microsoft.graph.group":
		return membersGroups, true
	}
	return 0, false
}

// memberSelection parses $select for a membership listing. Without a cast
// a name may belong to either type and applies where it exists.
func (gr *graphRequest) memberSelection(filter memberFilter) (uprops []userProp, gprops []groupProp, ctx string, ok bool) {
	if _, present := gr.q.get("expand"); present {
		gr.unsupported("$expand is not supported on this resource.")
		return nil, nil, "", false
	}
	raw, present := gr.q.get("select")
	if !present {
		return defaultUserProps, defaultGroupProps, "", true
	}
	uprops, gprops = []userProp{upID}, []groupProp{gpID}
	names := make([]string, 0, 8)
	for name := range strings.SplitSeq(raw, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		lower := strings.ToLower(name)
		up, isUser := userPropByName[lower]
		gp, isGroup := groupPropByName[lower]
		switch {
		case filter == membersUsers && !isUser:
			gr.badRequest("Could not find a property named '" + name + "' on type 'microsoft.graph.user'.")
			return nil, nil, "", false
		case filter == membersGroups && !isGroup:
			gr.badRequest("Could not find a property named '" + name + "' on type 'microsoft.graph.group'.")
			return nil, nil, "", false
		case !isUser && !isGroup:
			gr.badRequest("Could not find a property named '" + name + "' on type 'microsoft.graph.directoryObject'.")
			return nil, nil, "", false
		}
		if isUser && !slices.Contains(uprops, up) {
			uprops = append(uprops, up)
		}
		if isGroup && !slices.Contains(gprops, gp) {
			gprops = append(gprops, gp)
		}
		if isUser {
			names = append(names, userPropNames[up])
		} else {
			names = append(names, groupPropNames[gp])
		}
	}
	return uprops, gprops, "(" + strings.Join(names, ",") + ")", true
}

func (gr *graphRequest) listMembers(groupID string, transitive bool, cast string) {
	filter, ok := parseCast(cast)
	if !ok {
		gr.unknownSegment(cast)
		return
	}
	uprops, gprops, ctx, ok := gr.memberSelection(filter)
	if !ok {
		return
	}
	offset, top, ok := gr.pageBounds()
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	g := st.groups.get(groupID)
	if g == nil {
		gr.notFound(groupID)
		return
	}
	members := st.membersOf(g, transitive, filter)
	entitySet := "directoryObjects"
	switch filter {
	case membersUsers:
		entitySet = "users"
	case membersGroups:
		entitySet = "groups"
	}
	path := "groups/" + groupID + "/members"
	if transitive {
		path = "groups/" + groupID + "/transitiveMembers"
	}
	if cast != "" {
		path += "/" + cast
	}
	writeListing(gr, entitySet, ctx, path, members, offset, top, func(b []byte, m dirObject) []byte {
		if m.user != nil {
			return appendUser(b, m.user, uprops, true, nil)
		}
		return appendGroup(b, m.group, gprops, true, nil, false)
	})
}

// $count answers, as Graph gives them for directory objects: text/plain
// with the number, only with ConsistencyLevel: eventual (else 400
// Request_BadRequest). The number is the listing's length at the moment
// of the request, so it follows every Update.

// countUsers counts the users, or with $filter the users the listing
// with that filter lists (startswith(userPrincipalName,'...'), as a
// partitioned read counts its partitions before reading them).
func (gr *graphRequest) countUsers() {
	if !gr.countAllowed() {
		return
	}
	filter, ok := gr.userFilterParam()
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	n := len(st.users.items)
	if filter != nil {
		n = len(st.usersMatching(*filter))
	}
	st.mu.RUnlock()
	gr.writeCount(n)
}

func (gr *graphRequest) countGroups() {
	if !gr.countAllowed() {
		return
	}
	st := gr.st
	st.mu.RLock()
	n := len(st.groups.items)
	st.mu.RUnlock()
	gr.writeCount(n)
}

func (gr *graphRequest) countMembers(groupID string, transitive bool, cast string) {
	filter, ok := parseCast(cast)
	if !ok {
		gr.unknownSegment(cast)
		return
	}
	if !gr.countAllowed() {
		return
	}
	st := gr.st
	st.mu.RLock()
	g := st.groups.get(groupID)
	if g == nil {
		st.mu.RUnlock()
		gr.notFound(groupID)
		return
	}
	n := len(st.membersOf(g, transitive, filter))
	st.mu.RUnlock()
	gr.writeCount(n)
}

// countAllowed refuses a $count request without ConsistencyLevel: eventual
// or with query options the fake does not apply to counts.
func (gr *graphRequest) countAllowed() bool {
	if !strings.EqualFold(strings.TrimSpace(gr.r.Header.Get("ConsistencyLevel")), "eventual") {
		gr.badRequest("$count is not currently supported.")
		return false
	}
	for _, opt := range []string{"select", "expand", "top", "skiptoken"} {
		if _, present := gr.q.get(opt); present {
			gr.unsupported("Query option '$" + opt + "' is not allowed on $count.")
			return false
		}
	}
	return true
}

func (gr *graphRequest) writeCount(n int) {
	if gr.faulty(FaultCountSkew) {
		n = max(n+gr.fault.CountSkew, 0)
	}
	body := strconv.AppendInt(nil, int64(n), 10)
	h := gr.w.Header()
	h.Set("Content-Type", "text/plain;charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	setRequestIDs(h, gr.r)
	gr.w.WriteHeader(http.StatusOK)
	_, _ = gr.w.Write(body)
}

// deltaRound resolves a delta request into the round it belongs to: the
// version its changes are reported since (0 = initial round, everything),
// the version the round started at, and the page to serve.
func (gr *graphRequest) deltaRound() (tok pageToken, latest, ok bool) {
	top, explicit, ok := requestedPageSize(gr.r, gr.q)
	if !ok {
		gr.invalidTop()
		return pageToken{}, false, false
	}
	current := gr.st.version
	if raw, present := gr.q.get("skiptoken"); present {
		tok, err := decodePageToken(raw)
		if err != nil || tok.snap > current {
			gr.expiredToken()
			return pageToken{}, false, false
		}
		if tok.snap < gr.st.deltaFloor {
			gr.syncStateNotFound(top)
			return pageToken{}, false, false
		}
		return tok, false, true
	}
	// An empty $deltatoken is the initial query, as the Location of a
	// 410 names it.
	if raw, present := gr.q.get("deltatoken"); present && raw != "" {
		if strings.EqualFold(raw, "latest") {
			return pageToken{top: top, snap: current, since: current}, true, true
		}
		prev, err := decodePageToken(raw)
		if err != nil || prev.snap > current {
			gr.expiredToken()
			return pageToken{}, false, false
		}
		if prev.snap < gr.st.deltaFloor {
			gr.syncStateNotFound(top)
			return pageToken{}, false, false
		}
		if !explicit {
			top = prev.top
		}
		return pageToken{top: top, snap: current, since: prev.snap}, false, true
	}
	return pageToken{top: top, snap: current}, false, true
}

func (gr *graphRequest) userDelta() {
	sel, ok := gr.userSelection(true)
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	writeDeltaPage(gr, "users", sel.context, func(since uint64) deltaListing {
		entries := st.users.items
		var changed []deltaEntry[User]
		if since > 0 {
			changed = st.userDelta(since)
		}
		return fixedDeltaListing(len(entries), changed, since > 0, func(b []byte, i int) []byte {
			if since > 0 {
				if changed[i].obj == nil {
					return appendRemoved(b, changed[i].removedID, changed[i].soft)
				}
				return appendUser(b, changed[i].obj, sel.props, false, sel.expand)
			}
			return appendUser(b, entries[i], sel.props, false, sel.expand)
		})
	})
}

func (gr *graphRequest) groupDelta() {
	props, ctx, withMembers, ok := gr.groupSelection(true)
	if !ok {
		return
	}
	st := gr.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	if !withMembers {
		writeDeltaPage(gr, "groups", ctx, func(since uint64) deltaListing {
			entries := st.groups.items
			var changed []deltaEntry[Group]
			if since > 0 {
				changed = st.groupDelta(since)
			}
			return fixedDeltaListing(len(entries), changed, since > 0, func(b []byte, i int) []byte {
				if since > 0 {
					if changed[i].obj == nil {
						return appendRemoved(b, changed[i].removedID, changed[i].soft)
					}
					return appendGroup(b, changed[i].obj, props, false, nil, false)
				}
				return appendGroup(b, entries[i], props, false, nil, false)
			})
		})
		return
	}
	perPage := gr.s.DeltaMembersPerPage()
	writeDeltaPage(gr, "groups", ctx, func(since uint64) deltaListing {
		rows := st.groupDeltaRows(since, perPage)
		return deltaListing{
			count: len(rows),
			// A page holds at most top rows and perPage member references,
			// and always at least one row.
			end: func(start, top int) int {
				end, refs := start, 0
				for end < len(rows) && end-start < top {
					n := rows[end].to - rows[end].from
					if end > start && refs+n > perPage {
						break
					}
					refs += n
					end++
				}
				return end
			},
			appendEntry: func(b []byte, i int) []byte {
				row := rows[i]
				switch {
				case row.group == nil:
					return appendRemoved(b, row.removedID, row.removedSoft)
				case row.incremental:
					return appendGroupDelta(b, row.group, props, row.diff[row.from:row.to])
				}
				return appendGroup(b, row.group, props, false, row.members[row.from:row.to], true)
			},
		}
	})
}

// deltaListing is what the pages of one delta round are cut from: count
// entries, end giving where the page starting at start ends for a page
// size of top, appendEntry writing entry i.
type deltaListing struct {
	count       int
	end         func(start, top int) int
	appendEntry func(b []byte, i int) []byte
}

// fixedDeltaListing lists n objects in an initial round, or the changed
// entries of a later one, in pages of top.
func fixedDeltaListing[T any](n int, changed []deltaEntry[T], later bool, appendEntry func([]byte, int) []byte) deltaListing {
	if later {
		n = len(changed)
	}
	return deltaListing{
		count:       n,
		end:         func(start, top int) int { return min(start+top, n) },
		appendEntry: appendEntry,
	}
}

// writeDeltaPage writes one page of a users or groups delta round: every
// object in a first round, then only what changed since the round's token
// (removed objects as @removed), with a nextLink, or a deltaLink on the
// last page; altered by the request's page fault if it has one. listing
// gives the round's entries for the version changes are reported since (0
// = an initial round). The caller holds the tenant's read lock.
func writeDeltaPage(gr *graphRequest, collection, context string, listing func(since uint64) deltaListing) {
	tok, latest, ok := gr.deltaRound()
	if !ok {
		return
	}
	var l deltaListing
	if !latest {
		l = listing(tok.since)
	}
	start := min(tok.offset, l.count)
	end := start
	if l.count > 0 {
		end = l.end(start, tok.top)
	}
	page := 1
	if _, present := gr.q.get("skiptoken"); present {
		page = tok.pageNumber()
	}

	buf := getBuf()
	defer putBuf(buf)
	b := gr.appendContext(*buf, collection, context, false)
	path := collection + "/delta()"
	next := pageToken{offset: end, top: tok.top, snap: tok.snap, since: tok.since, page: page + 1}
	base := gr.s.url
	switch {
	case gr.faulty(FaultRepeatNextLink):
		// The link this very page was served from: a loop.
		next.offset, next.page = start, page
	case gr.faulty(FaultForeignNextLink):
		base = cmp.Or(gr.fault.NextLinkBase, DefaultForeignNextLinkBase)
	}
	switch {
	case (end < l.count && !gr.faulty(FaultDropNextLink)) || gr.faulty(FaultRepeatNextLink):
		b = gr.appendLink(b, "@odata.nextLink", base, path, "skiptoken", next)
	default:
		// A dropped nextLink ends the round early: well formed, silently
		// short.
		b = gr.appendLink(b, "@odata.deltaLink", gr.s.url, path, "deltatoken", pageToken{top: tok.top, snap: tok.snap, since: tok.snap})
	}
	if !gr.faulty(FaultNoValue) {
		gr.ex.items = end - start
		b = append(b, `,"value":[`...)
		for i := start; i < end; i++ {
			if i > start {
				b = append(b, ',')
			}
			b = l.appendEntry(b, i)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	*buf = b
	if gr.faulty(FaultTruncated) {
		b = b[:len(b)/2]
	}
	gr.writeBody(http.StatusOK, b)
}

func (gr *graphRequest) organization() {
	st := gr.st
	name := st.domainOrID()
	if head, _, ok := strings.Cut(name, "."); ok && head != "" {
		name = strings.ToUpper(head[:1]) + head[1:]
	}
	buf := getBuf()
	defer putBuf(buf)
	b := gr.appendContext(*buf, "organization", "", false)
	b = append(b, `,"value":[{"id":`...)
	b = appendString(b, st.id)
	b = append(b, `,"displayName":`...)
	b = appendString(b, name)
	b = append(b, `,"tenantType":"AAD","verifiedDomains":[`...)
	if st.domain != "" {
		b = append(b, `{"capabilities":"Email, OfficeCommunicationsOnline","isDefault":true,"isInitial":true,"name":`...)
		b = appendString(b, st.domain)
		b = append(b, `,"type":"Managed"}`...)
	}
	b = append(b, "]}]}"...)
	*buf = b
	gr.ex.items = 1
	gr.writeBody(http.StatusOK, b)
}

func (gr *graphRequest) writeBody(status int, body []byte) {
	h := gr.w.Header()
	h.Set("Content-Type", odataContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
	setRequestIDs(h, gr.r)
	gr.w.WriteHeader(status)
	_, _ = gr.w.Write(body)
}

func setRequestIDs(h http.Header, r *http.Request) string {
	reqID := newGUID()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	h.Set("request-id", reqID)
	h.Set("client-request-id", clientReqID)
	return clientReqID
}

func (gr *graphRequest) forbidden() {
	gr.s.writeODataError(gr.w, gr.r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

func (gr *graphRequest) notFound(id string) {
	gr.s.writeODataError(gr.w, gr.r, http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

func (gr *graphRequest) badRequest(msg string) {
	gr.s.writeODataError(gr.w, gr.r, http.StatusBadRequest, "Request_BadRequest", msg)
}

func (gr *graphRequest) unsupported(msg string) {
	gr.s.writeODataError(gr.w, gr.r, http.StatusBadRequest, "Request_UnsupportedQuery", msg)
}

func (gr *graphRequest) invalidTop() {
	v, _ := gr.q.get("top")
	gr.unsupported("Invalid page size specified: '" + v + "'. Must be between 1 and 999 inclusive.")
}

func (gr *graphRequest) expiredToken() {
	gr.s.writeODataError(gr.w, gr.r, http.StatusBadRequest, "Directory_ExpiredPageToken",
		"The specified page token value has expired and can no longer be included in your request.")
}

// syncStateNotFound answers a delta token the fake no longer honours as
// Graph answers an expired one: 410 Gone, code syncStateNotFound, and a
// Location header with the initial query (the same options, an empty
// $deltatoken) to restart with a full synchronization.
func (gr *graphRequest) syncStateNotFound(top int) {
	collection := "users"
	if strings.Contains(gr.r.URL.Path, "/groups/") {
		collection = "groups"
	}
	loc := gr.s.url + "/v1.0/" + collection + "/delta()?"
	for _, opt := range [...]string{"select", "expand"} {
		if v, ok := gr.q.get(opt); ok {
			loc += "$" + opt + "=" + string(appendQueryValue(nil, v)) + "&"
		}
	}
	if _, ok := gr.q.get("top"); ok {
		loc += "$top=" + strconv.Itoa(top) + "&"
	}
	gr.w.Header().Set("Location", loc+"$deltatoken=")
	gr.s.writeODataError(gr.w, gr.r, http.StatusGone, "syncStateNotFound",
		"The sync state generation is not found. The delta token is expired and data must be synchronized again.")
}

func (gr *graphRequest) unknownSegment(seg string) {
	gr.s.writeODataError(gr.w, gr.r, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+seg+"'.")
}

func (s *Server) writeUnauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+s.url+`/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	s.writeODataError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
}

type odataError struct {
	Error odataErrorBody `json:"error"`
}

type odataErrorBody struct {
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	InnerError odataInnerError `json:"innerError"`
}

type odataInnerError struct {
	// Code, Message and Status appear in throttled answers only.
	Code            string `json:"code,omitempty"`
	Message         string `json:"message,omitempty"`
	Status          string `json:"status,omitempty"`
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// writeODataError writes an error the way Microsoft Graph does.
func (s *Server) writeODataError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	s.writeODataErrorInner(w, r, status, code, message, odataInnerError{})
}

// writeODataErrorInner is writeODataError with more in innerError; its
// date and request ids are filled in.
func (s *Server) writeODataErrorInner(w http.ResponseWriter, r *http.Request, status int, code, message string, inner odataInnerError) {
	h := w.Header()
	inner.ClientRequestID = setRequestIDs(h, r)
	inner.RequestID = h.Get("request-id")
	inner.Date = time.Now().UTC().Format("2006-01-02T15:04:05")
	body, err := json.Marshal(odataError{Error: odataErrorBody{
		Code:       code,
		Message:    message,
		InnerError: inner,
	}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", odataContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
