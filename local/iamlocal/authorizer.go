package iamlocal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrAccessDenied: the principal's policies do not allow the request.
var ErrAccessDenied = errors.New("iamlocal: access denied")

// ErrNotModelled: a request whose authorization iamlocal does not model;
// only the admin may make it.
var ErrNotModelled = errors.New("iamlocal: request not modelled")

// DeniedError is a refused request, as AWS words it.
type DeniedError struct {
	Principal    *Principal
	Action       string
	Resource     string
	ExplicitDeny bool
	// NotModelled: iamlocal cannot tell what AWS would authorize.
	NotModelled string
}

func (e *DeniedError) Error() string {
	if e.NotModelled != "" {
		return fmt.Sprintf("User: %s is not authorized to perform this request: %s (iamlocal models no other authorization for it; only the %s principal may make it)",
			e.Principal.ARN, e.NotModelled, AdminName)
	}
	why := "because no identity-based policy allows the " + e.Action + " action"
	if e.ExplicitDeny {
		why = "with an explicit deny in an identity-based policy"
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", e.Principal.ARN, e.Action, printable(e.Resource), why)
}

// Is makes a DeniedError ErrAccessDenied (and ErrNotModelled when it is).
func (e *DeniedError) Is(target error) bool {
	return target == ErrAccessDenied || (target == ErrNotModelled && e.NotModelled != "")
}

// Config configures an Authorizer.
type Config struct {
	// Region the services are called in; requests must be signed for it.
	Region     string
	Principals *Principals
	// Logger receives each refusal (never a credential); nil discards.
	Logger *slog.Logger
	// Now is the clock signatures are checked against; nil = time.Now.
	Now func() time.Time
}

// Authorizer authenticates requests, authorizes them with their
// principal's policy and records which grants allowed requests used.
type Authorizer struct {
	region     string
	principals *Principals
	logger     *slog.Logger
	now        func() time.Time

	mu   sync.Mutex
	used map[grantKey]int
}

type grantKey struct {
	role string
	Match
}

// New returns an Authorizer over cfg.Principals.
func New(cfg Config) (*Authorizer, error) {
	if cfg.Region == "" || cfg.Principals == nil {
		return nil, errors.New("iamlocal: Config needs a Region and Principals")
	}
	if cfg.Principals.Admin() == nil {
		return nil, errors.New("iamlocal: Config.Principals has no admin")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authorizer{region: cfg.Region, principals: cfg.Principals, logger: cfg.Logger, now: cfg.Now, used: map[grantKey]int{}}, nil
}

// Principals are the identities the Authorizer knows.
func (a *Authorizer) Principals() *Principals { return a.principals }

// Authorize answers whether p may perform action on resource and records
// the grants it uses. A refusal is a *DeniedError (ErrAccessDenied). It
// serves requests no middleware sees, such as Lambda invoking a function's
// OnFailure destination with the function's role.
func (a *Authorizer) Authorize(p *Principal, action, resource string) error {
	if denied := a.authorize(p, []check{{action, resource}}); denied != nil {
		return denied
	}
	return nil
}

// authorize evaluates every check; only when all are allowed does it record
// the grants they used.
func (a *Authorizer) authorize(p *Principal, checks []check) *DeniedError {
	var by []Match
	for _, c := range checks {
		d := p.policy.Evaluate(c.action, c.resource)
		if !d.Allowed || d.ExplicitDeny {
			a.logger.Warn("iamlocal: access denied", "principal", p.Name, "action", c.action, "resource", printable(c.resource), "explicit_deny", d.ExplicitDeny)
			return &DeniedError{Principal: p, Action: c.action, Resource: c.resource, ExplicitDeny: d.ExplicitDeny}
		}
		by = append(by, d.By...)
	}
	if p.Role != nil {
		a.mu.Lock()
		for _, m := range by {
			a.used[grantKey{p.Role.LogicalID, m}]++
		}
		a.mu.Unlock()
	}
	return nil
}

// Grant is one action element by one resource element of one Allow
// statement of a role.
type Grant struct {
	Role      string // logical id
	Statement int    // index among the role's statements
	Sid       string
	Source    string // inline policy name or managed policy ARN
	Managed   bool
	Action    string // as written, or "NotAction"
	Resource  string // as written, or "NotResource"
}

// Service is the grant's service prefix ("dynamodb"), "" for "*".
func (g Grant) Service() string {
	s, _, ok := strings.Cut(g.Action, ":")
	if !ok {
		return ""
	}
	return s
}

func (g Grant) String() string {
	return fmt.Sprintf("%s statement %d (%s): %s on %s", g.Role, g.Statement, g.Source, g.Action, g.Resource)
}

// Grants returns every grant of the role principals, in role and
// statement order.
func (a *Authorizer) Grants() []Grant {
	var out []Grant
	for _, p := range a.principals.Roles() {
		for _, st := range p.policy {
			if st.Effect != Allow {
				continue
			}
			actions, resources := st.Actions, st.Resources
			if st.NotActions != nil {
				actions = []string{"NotAction"}
			}
			if st.NotResources != nil {
				resources = []string{"NotResource"}
			}
			for _, ac := range actions {
				for _, r := range resources {
					out = append(out, Grant{Role: p.Name, Statement: st.Index, Sid: st.Sid, Source: st.Source, Managed: st.Managed, Action: ac, Resource: r})
				}
			}
		}
	}
	return out
}

// Unused returns every grant no allowed request has used, for a suite to
// report at its end. Grants of services no stand-in serves (CloudWatch
// Logs, X-Ray) are among them; Grant.Service tells them apart.
func (a *Authorizer) Unused() []Grant {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Grant
	for _, g := range a.Grants() {
		if a.used[grantKey{g.Role, Match{g.Statement, g.Action, g.Resource}}] == 0 {
			out = append(out, g)
		}
	}
	return out
}

// Use is how often allowed requests used one grant.
type Use struct {
	Grant
	Requests int
}

// Used returns the grants allowed requests used and how often.
func (a *Authorizer) Used() []Use {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Use
	for _, g := range a.Grants() {
		if n := a.used[grantKey{g.Role, Match{g.Statement, g.Action, g.Resource}}]; n > 0 {
			out = append(out, Use{g, n})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out
}

// check is one authorization a request needs.
type check struct{ action, resource string }

// service is how one AWS service is guarded: its SigV4 signing name, how a
// request maps to the authorizations it needs, and its wire format.
type service struct {
	name        string // for logs
	signingName string
	// checks returns the authorizations the request needs; an
	// ErrNotModelled error refuses it for all but the admin.
	checks func(r *http.Request, body []byte) ([]check, error)
	// writeError answers a refusal or an authentication failure.
	writeError func(w http.ResponseWriter, status int, code, message string)
	// authStatus is the HTTP status of authentication failures,
	// deniedStatus that of AccessDeniedException.
	authStatus, deniedStatus int
	// coral: JSON-protocol services name error types with Coral's prefix.
	coral bool
}

// maxBody bounds a request body read to verify its signature (Lambda's
// 6 MB payload and some).
const maxBody = 16 << 20

// guard wraps next with authentication and authorization for svc.
func (a *Authorizer) guard(svc service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		r.Body.Close()
		if err != nil || len(body) > maxBody {
			svc.writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "request body unreadable or too large")
			return
		}
		p, aerr := a.authenticate(r.Context(), r, body, svc.signingName)
		if aerr != nil {
			code := map[authKind]string{authMissing: "MissingAuthenticationTokenException", authUnrecognized: "UnrecognizedClientException", authSignature: "InvalidSignatureException"}[aerr.kind]
			if svc.coral {
				code = "com.amazon.coral.service#" + code
			}
			a.logger.Warn("iamlocal: request not authenticated", "service", svc.name, "error", aerr.message)
			svc.writeError(w, svc.authStatus, code, aerr.message)
			return
		}
		if p.Role != nil { // the admin may do anything, modelled or not
			checks, err := svc.checks(r, body)
			if err != nil {
				denied := &DeniedError{Principal: p, NotModelled: err.Error()}
				a.logger.Warn("iamlocal: request not modelled", "service", svc.name, "principal", p.Name, "error", err)
				a.deny(svc, w, denied)
				return
			}
			if denied := a.authorize(p, checks); denied != nil {
				a.deny(svc, w, denied)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

func (a *Authorizer) deny(svc service, w http.ResponseWriter, err *DeniedError) {
	code := "AccessDeniedException"
	if svc.coral {
		code = "com.amazon.coral.service#" + code
	}
	svc.writeError(w, svc.deniedStatus, code, err.Error())
}

// jsonError answers in the AWS JSON 1.0/1.1 protocols' form.
func jsonError(contentType string) func(w http.ResponseWriter, status int, code, message string) {
	return func(w http.ResponseWriter, status int, code, message string) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Amzn-RequestId", requestID())
		w.WriteHeader(status)
		_ = writeJSON(w, map[string]string{"__type": code, "Message": message})
	}
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
