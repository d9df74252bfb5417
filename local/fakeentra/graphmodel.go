package fakeentra

import (
	"bytes"
	"cmp"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// GraphModel makes the fake's Graph answer as slowly as the real service
// and throttle like it (doc.go, "Graph model", gives the figures and their
// sources). The zero model is off: answers at once, never throttled.
type GraphModel struct {
	// Fixed is waited on every Graph request before its answer leaves.
	Fixed time.Duration `json:"fixed"`
	// PerItem is waited on top of Fixed for every item the answer returns:
	// each entry of "value", 1 for a single object, none for an error or
	// a $count.
	PerItem time.Duration `json:"perItem"`
	// Throttle debits each Graph request's resource units from a budget per
	// app and tenant, and answers 429 with Retry-After once it is spent.
	Throttle bool `json:"throttle"`
	// Budget, when positive, replaces the documented budget for the
	// tenant's size (TenantBudget), e.g. so a test runs it out quickly.
	Budget int `json:"budget,omitempty"`
	// Window is the period over which a whole budget refills; zero means
	// ThrottleWindow.
	Window time.Duration `json:"window,omitempty"`
}

// Figures of the realistic model. Graph's identity and access service
// documents the budgets; it gives no latency, so the latency is an
// assumption (doc.go says why).
const (
	RealisticFixedLatency   = 150 * time.Millisecond
	RealisticPerItemLatency = time.Millisecond

	// ThrottleWindow is the period the documented budgets are given per.
	ThrottleWindow = 10 * time.Second
	// Resource units per app and tenant per ThrottleWindow, by tenant size.
	SmallTenantBudget  = 3500 // fewer than 50 users
	MediumTenantBudget = 5000 // 50 to 500 users
	LargeTenantBudget  = 8000 // more than 500 users
)

// RealisticGraphModel is the model doc.go documents: 150 ms plus 1 ms per
// item returned, and the documented throttling for the tenant's size.
func RealisticGraphModel() GraphModel {
	return GraphModel{Fixed: RealisticFixedLatency, PerItem: RealisticPerItemLatency, Throttle: true}
}

// TenantBudget is the documented resource-unit budget per app and tenant
// per ThrottleWindow for a tenant of that many users.
func TenantBudget(users int) int {
	switch {
	case users < 50:
		return SmallTenantBudget
	case users <= 500:
		return MediumTenantBudget
	default:
		return LargeTenantBudget
	}
}

func (m GraphModel) delays() bool { return m.Fixed > 0 || m.PerItem > 0 }

func (m GraphModel) latency(items int) time.Duration {
	return m.Fixed + m.PerItem*time.Duration(items)
}

// WithGraphModel starts the server with a Graph model (default: off).
func WithGraphModel(m GraphModel) Option {
	return func(c *config) { c.model = m }
}

// SetGraphModel replaces the Graph model; every budget starts full again.
// Requests already waiting keep the latency they started with.
func (s *Server) SetGraphModel(m GraphModel) {
	s.modelMu.Lock()
	defer s.modelMu.Unlock()
	s.model = m
	clear(s.budgets)
}

// GraphModel returns the Graph model in force.
func (s *Server) GraphModel() GraphModel {
	s.modelMu.Lock()
	defer s.modelMu.Unlock()
	return s.model
}

// budgetKey is what Graph keeps a budget for: an app in a tenant.
type budgetKey struct{ clientID, tenantID string }

// charge debits cost resource units from the budget of the app in the
// tenant and reports whether the request may proceed; when it may not,
// wait is how long until the budget holds enough again. A throttled request
// is not debited, so a client that waits Retry-After gets through.
func (s *Server) charge(m GraphModel, clientID string, st *tenantState, cost int) (wait time.Duration, ok bool) {
	capacity := m.Budget
	if capacity <= 0 {
		st.mu.RLock()
		capacity = TenantBudget(len(st.users.items))
		st.mu.RUnlock()
	}
	// Graph refills the bucket continuously: a whole budget per window.
	refill := rate.Limit(float64(capacity) / cmp.Or(m.Window, ThrottleWindow).Seconds())
	cost = min(cost, capacity) // a request dearer than the whole budget waits for all of it

	s.modelMu.Lock()
	defer s.modelMu.Unlock()
	now := time.Now()
	key := budgetKey{clientID: strings.ToLower(clientID), tenantID: st.id}
	lim := s.budgets[key]
	switch {
	case lim == nil:
		lim = rate.NewLimiter(refill, capacity) // starts full
		s.budgets[key] = lim
	case lim.Burst() != capacity:
		// The tenant grew or shrank past a size boundary.
		lim.SetLimitAt(now, refill)
		lim.SetBurstAt(now, capacity)
	}
	if lim.AllowN(now, cost) {
		return 0, true
	}
	missing := float64(cost) - lim.TokensAt(now)
	return time.Duration(missing / float64(lim.Limit()) * float64(time.Second)), false
}

// retryAfterSeconds rounds a wait up to the whole seconds of a Retry-After.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// Endpoint kinds GraphStats counts requests by.
const (
	KindUsers             = "users"             // GET /users
	KindUser              = "user"              // GET /users/{id}, /users/{id}/manager
	KindUsersDelta        = "users/delta"       // GET /users/delta()
	KindGroups            = "groups"            // GET /groups
	KindGroup             = "group"             // GET /groups/{id}
	KindGroupsDelta       = "groups/delta"      // GET /groups/delta()
	KindMembers           = "members"           // GET /groups/{id}/members[/cast]
	KindTransitiveMembers = "transitiveMembers" // GET /groups/{id}/transitiveMembers[/cast]
	KindCount             = "$count"            // any $count segment
	KindOther             = "other"             // /organization and anything else
)

// classify names the kind of a Graph path (after /v1.0/) and its base
// cost in resource units, from the identity and access table: GET users 2,
// a group's members 3, its transitive members 5, any other GET 1. A type
// cast or $count under a membership listing is charged as the listing.
func classify(rest string) (kind string, base int) {
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(segs) >= 3 && segs[0] == "groups" {
		switch segs[2] {
		case "members":
			kind, base = KindMembers, 3
		case "transitiveMembers":
			kind, base = KindTransitiveMembers, 5
		}
		if base > 0 {
			if segs[len(segs)-1] == "$count" {
				kind = KindCount
			}
			return kind, base
		}
	}
	switch {
	case segs[len(segs)-1] == "$count":
		return KindCount, 1
	case segs[0] == "users" && len(segs) == 1:
		return KindUsers, 2
	case segs[0] == "users" && len(segs) == 2 && isDeltaSegment(segs[1]):
		return KindUsersDelta, 1
	case segs[0] == "users":
		return KindUser, 1
	case segs[0] == "groups" && len(segs) == 1:
		return KindGroups, 1
	case segs[0] == "groups" && len(segs) == 2 && isDeltaSegment(segs[1]):
		return KindGroupsDelta, 1
	case segs[0] == "groups":
		return KindGroup, 1
	}
	return KindOther, 1
}

// requestCost applies the documented adjustments to a base cost: $select
// -1, $expand +1, $top under 20 -1, never below 1.
func requestCost(base int, q query) int {
	cost := base
	if _, ok := q.get("select"); ok {
		cost--
	}
	if _, ok := q.get("expand"); ok {
		cost++
	}
	if v, ok := q.get("top"); ok {
		if n, err := strconv.Atoi(v); err == nil && n < 20 {
			cost--
		}
	}
	return max(cost, 1)
}

// exchange is what the server learns about one request while answering
// it, for the request log and GraphStats.
type exchange struct {
	items     int
	throttled bool
	cost      int // resource units debited
}

// GraphStats counts the Graph requests answered since the server started.
type GraphStats struct {
	// Requests counts every Graph request answered, throttled ones and
	// errors included (a dropped connection is no answer).
	Requests int64 `json:"requests"`
	// Items counts the items returned: entries of "value", 1 per single
	// object.
	Items int64 `json:"items"`
	// Throttled counts the 429s the model's budget answered (not those of
	// an injected fault).
	Throttled int64 `json:"throttled"`
	// ResourceUnits is what the model debited from budgets.
	ResourceUnits int64 `json:"resourceUnits"`
	// ByKind breaks the counts down by endpoint kind (Kind* constants).
	ByKind map[string]KindStats `json:"byKind"`
}

// KindStats is GraphStats for one endpoint kind.
type KindStats struct {
	Requests  int64 `json:"requests"`
	Items     int64 `json:"items"`
	Throttled int64 `json:"throttled"`
}

// Sub returns what happened between an earlier snapshot and this one.
func (g GraphStats) Sub(earlier GraphStats) GraphStats {
	out := GraphStats{
		Requests: g.Requests - earlier.Requests, Items: g.Items - earlier.Items,
		Throttled: g.Throttled - earlier.Throttled, ResourceUnits: g.ResourceUnits - earlier.ResourceUnits,
		ByKind: make(map[string]KindStats, len(g.ByKind)),
	}
	for k, v := range g.ByKind {
		e := earlier.ByKind[k]
		if d := (KindStats{Requests: v.Requests - e.Requests, Items: v.Items - e.Items, Throttled: v.Throttled - e.Throttled}); d != (KindStats{}) {
			out.ByKind[k] = d
		}
	}
	return out
}

// GraphStats returns a copy of the counts so far.
func (s *Server) GraphStats() GraphStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := s.stats
	out.ByKind = maps.Clone(s.stats.ByKind)
	if out.ByKind == nil {
		out.ByKind = map[string]KindStats{}
	}
	return out
}

// countGraph counts an answered request in GraphStats if it is a Graph one.
func (s *Server) countGraph(path string, ex *exchange) {
	rest, ok := strings.CutPrefix(path, "/v1.0/")
	if !ok {
		return
	}
	kind, _ := classify(rest)
	throttled := int64(0)
	if ex.throttled {
		throttled = 1
	}
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.Requests++
	s.stats.Items += int64(ex.items)
	s.stats.Throttled += throttled
	s.stats.ResourceUnits += int64(ex.cost)
	if s.stats.ByKind == nil {
		s.stats.ByKind = map[string]KindStats{}
	}
	k := s.stats.ByKind[kind]
	k.Requests++
	k.Items += int64(ex.items)
	k.Throttled += throttled
	s.stats.ByKind[kind] = k
}

// heldResponse keeps an answer until its latency has passed, so the wait
// happens after the handler let go of the tenant's lock.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

var heldPool = sync.Pool{New: func() any { return &heldResponse{header: make(http.Header)} }}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return h.body.Write(b)
}

func (h *heldResponse) sendTo(w http.ResponseWriter) {
	maps.Copy(w.Header(), h.header)
	w.WriteHeader(cmp.Or(h.status, http.StatusOK))
	_, _ = w.Write(h.body.Bytes())
}

func (h *heldResponse) reset() {
	clear(h.header)
	h.status = 0
	h.body.Reset()
}

// writeThrottled answers a request the budget cannot pay for, as Graph's
// throttling guidance shows (429, Retry-After in seconds, TooManyRequests)
// with the identity and access service's throttle headers.
func (s *Server) writeThrottled(w http.ResponseWriter, r *http.Request, wait time.Duration, clientID, tenantID string) {
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	h.Set("x-ms-throttle-scope", "Tenant_Application/Read/"+clientID+"/"+tenantID)
	h.Set("x-ms-throttle-information", "ResourceUnitLimitExceeded")
	s.writeODataErrorInner(w, r, http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.",
		odataInnerError{Code: "429", Message: "Please retry after", Status: "429"})
}
