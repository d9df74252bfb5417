package iamlocal

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ErrNoPrincipal: no principal of that role or resource.
var ErrNoPrincipal = errors.New("iamlocal: no such principal")

// AdminName names the admin principal, whose policy is AllowAll.
const AdminName = "admin"

// Principal is one identity requests sign as: a role's session, or the
// admin user the stack's own setup and tests call with.
type Principal struct {
	Name string // the role's logical id, or AdminName
	// ARN is the identity AWS names in a refusal: the assumed-role ARN of
	// a role's session, the admin's IAM user ARN.
	ARN  string
	Role *Role // nil for the admin
	// Credentials sign its requests; they are secrets: never log them.
	Credentials aws.Credentials
	policy      Policy
}

// Provider returns static credentials for an AWS SDK client.
func (p *Principal) Provider() aws.CredentialsProvider {
	c := p.Credentials
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

// Env is the environment a process signing as p gets, as Lambda gives a
// function its role's credentials.
func (p *Principal) Env() map[string]string {
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":     p.Credentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": p.Credentials.SecretAccessKey,
	}
	if p.Credentials.SessionToken != "" {
		env["AWS_SESSION_TOKEN"] = p.Credentials.SessionToken
	}
	return env
}

// Policy is what p may do.
func (p *Principal) Policy() Policy { return p.policy }

// Principals are the identities of one account: one per role and the
// admin, each known by its access key id.
type Principals struct {
	accountID string
	byKey     map[string]*Principal
	byRole    map[string]*Principal // role logical id
	byUser    map[string]*Principal // logical id of a function or state machine
	admin     *Principal
}

func newPrincipals(accountID string) *Principals {
	return &Principals{accountID: accountID, byKey: map[string]*Principal{}, byRole: map[string]*Principal{}, byUser: map[string]*Principal{}}
}

// add registers a principal; a role's principal serves every resource
// assuming it.
func (ps *Principals) add(p *Principal) error {
	if p.Credentials.AccessKeyID == "" || p.Credentials.SecretAccessKey == "" {
		return fmt.Errorf("iamlocal: principal %s has no credentials", p.Name)
	}
	if _, dup := ps.byKey[p.Credentials.AccessKeyID]; dup {
		return fmt.Errorf("iamlocal: principal %s: access key id taken", p.Name)
	}
	ps.byKey[p.Credentials.AccessKeyID] = p
	if p.Role == nil {
		ps.admin = p
		return nil
	}
	if p.Role.AccountID != ps.accountID {
		return fmt.Errorf("iamlocal: role %s is of account %s, not %s", p.Role.LogicalID, p.Role.AccountID, ps.accountID)
	}
	ps.byRole[p.Role.LogicalID] = p
	for _, id := range p.Role.AssumedBy {
		ps.byUser[id] = p
	}
	return nil
}

func rolePrincipal(r *Role, creds aws.Credentials) *Principal {
	return &Principal{Name: r.LogicalID, ARN: r.AssumedRoleARN(), Role: r, Credentials: creds, policy: r.Policy}
}

func adminPrincipal(accountID string, creds aws.Credentials) *Principal {
	return &Principal{Name: AdminName, ARN: "arn:aws:iam::" + accountID + ":user/" + AdminName, Credentials: creds, policy: AllowAll}
}

// GeneratePrincipals makes random credentials for each role (temporary
// ones, with a session token, as an assumed role has) and for the admin,
// for stand-ins that only the middlewares guard. With moto behind one,
// take the credentials moto issues instead (SetupMoto).
func GeneratePrincipals(accountID string, roles []Role) (*Principals, error) {
	ps := newPrincipals(accountID)
	for i := range roles {
		creds, err := randomCredentials("ASIA", true)
		if err != nil {
			return nil, err
		}
		if err := ps.add(rolePrincipal(&roles[i], creds)); err != nil {
			return nil, err
		}
	}
	creds, err := randomCredentials("AKIA", false)
	if err != nil {
		return nil, err
	}
	if err := ps.add(adminPrincipal(accountID, creds)); err != nil {
		return nil, err
	}
	return ps, nil
}

func randomCredentials(prefix string, session bool) (aws.Credentials, error) {
	b := make([]byte, 40+64)
	if _, err := rand.Read(b); err != nil {
		return aws.Credentials{}, fmt.Errorf("iamlocal: credentials: %w", err)
	}
	// Access key ids are 20 upper-case letters and digits, as AWS's.
	id := prefix + base32.StdEncoding.EncodeToString(b[:10])[:16]
	c := aws.Credentials{AccessKeyID: id, SecretAccessKey: base64.RawStdEncoding.EncodeToString(b[10:40])[:40], Source: "iamlocal"}
	if session {
		c.SessionToken = base64.StdEncoding.EncodeToString(b[40:])
	}
	return c, nil
}

// AccountID is the account of every principal.
func (ps *Principals) AccountID() string { return ps.accountID }

// Admin is the principal allowed everything.
func (ps *Principals) Admin() *Principal { return ps.admin }

// Role returns the principal of the role with that logical id.
func (ps *Principals) Role(logicalID string) (*Principal, error) {
	if p, ok := ps.byRole[logicalID]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: role %s", ErrNoPrincipal, logicalID)
}

// For returns the principal of the role a function or state machine (by
// logical id) runs with.
func (ps *Principals) For(logicalID string) (*Principal, error) {
	if p, ok := ps.byUser[logicalID]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w: no role is assumed by %s", ErrNoPrincipal, logicalID)
}

// ByAccessKey returns the principal signing with that access key id.
func (ps *Principals) ByAccessKey(id string) (*Principal, bool) {
	p, ok := ps.byKey[id]
	return p, ok
}

// SignedBy returns the principal whose access key a request's SigV4
// Authorization header names (its signature is not verified here: the
// guards do that).
func (ps *Principals) SignedBy(r *http.Request) (*Principal, bool) {
	a, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return nil, false
	}
	return ps.ByAccessKey(a.accessKey)
}

// Roles returns the role principals, sorted by logical id.
func (ps *Principals) Roles() []*Principal {
	out := make([]*Principal, 0, len(ps.byRole))
	for _, p := range ps.byRole {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// String names the principals, never their credentials.
func (ps *Principals) String() string {
	names := make([]string, 0, len(ps.byKey))
	for _, p := range ps.byKey {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return "iamlocal principals of " + ps.accountID + ": " + strings.Join(names, ", ")
}
