package iamlocal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"dirsync/local/motolocal"
)

// SetupMoto creates in moto, while its enforcement is suspended
// (motolocal.Instance.WithoutAuth), a principal for each role and the
// admin, and returns them with the credentials moto issued, so one access
// key identifies a role both in moto and in the middlewares:
//
//   - each role becomes an IAM role of that name with its statements as an
//     inline policy, and is assumed (sts:AssumeRole, session Role.Session):
//     its principal signs with those temporary credentials, and moto names
//     it arn:aws:sts::<account>:assumed-role/<name>/<session>, as AWS does;
//   - the admin is the IAM user "admin" with a policy allowing everything,
//     and an access key of it.
//
// moto authorizes a Secrets Manager request's action against resource "*"
// only (a statement naming resources never matches), so in moto a role's
// Allow statements grant their actions on "*", and Deny statements naming
// resources are left out; resources are the SecretsManager middleware's to
// check. Start moto with motolocal.Options{EnforceIAM: true, AccountID:
// the roles' account}, and point clients at the middleware, never at moto.
func SetupMoto(ctx context.Context, moto *motolocal.Instance, roles []Role) (*Principals, error) {
	if len(roles) == 0 {
		return nil, fmt.Errorf("iamlocal: setup moto: no roles")
	}
	account := roles[0].AccountID
	if moto.AccountID != account {
		return nil, fmt.Errorf("iamlocal: setup moto: moto serves account %s, the roles are of %s (motolocal.Options.AccountID)", moto.AccountID, account)
	}
	ps := newPrincipals(account)
	err := moto.WithoutAuth(ctx, func() error {
		c := &motoIAM{endpoint: moto.Endpoint}
		stsClient := sts.New(sts.Options{
			Region: motolocal.Region, BaseEndpoint: aws.String(moto.Endpoint),
			Credentials: credentials.NewStaticCredentialsProvider("setup", "setup", ""),
		})
		for i := range roles {
			r := &roles[i]
			if err := c.createRole(ctx, r); err != nil {
				return fmt.Errorf("iamlocal: setup moto: role %s: %w", r.LogicalID, err)
			}
			out, err := stsClient.AssumeRole(ctx, &sts.AssumeRoleInput{
				RoleArn: aws.String(r.ARN), RoleSessionName: aws.String(r.Session), DurationSeconds: aws.Int32(43200),
			})
			if err != nil {
				return fmt.Errorf("iamlocal: setup moto: assume role %s: %w", r.LogicalID, err)
			}
			cr := out.Credentials
			creds := aws.Credentials{AccessKeyID: aws.ToString(cr.AccessKeyId), SecretAccessKey: aws.ToString(cr.SecretAccessKey),
				SessionToken: aws.ToString(cr.SessionToken), Source: "moto"}
			if err := ps.add(rolePrincipal(r, creds)); err != nil {
				return err
			}
		}
		creds, err := c.createAdmin(ctx)
		if err != nil {
			return fmt.Errorf("iamlocal: setup moto: admin: %w", err)
		}
		return ps.add(adminPrincipal(account, creds))
	})
	if err != nil {
		return nil, err
	}
	return ps, nil
}

// motoPolicy is a role's policy as moto can evaluate it: actions on "*".
func motoPolicy(p Policy) map[string]any {
	var sts []any
	for _, st := range p {
		m := map[string]any{"Effect": st.Effect, "Resource": "*"}
		if st.Effect == Deny && (st.NotResources != nil || len(st.Resources) != 1 || st.Resources[0] != "*") {
			continue // moto would deny it everywhere
		}
		if st.NotActions != nil {
			m["NotAction"] = st.NotActions
		} else {
			m["Action"] = st.Actions
		}
		sts = append(sts, m)
	}
	return map[string]any{"Version": "2012-10-17", "Statement": sts}
}

// motoIAM calls moto's IAM Query API (service/iam is not a dependency of
// this module; these are four calls).
type motoIAM struct{ endpoint string }

func (c *motoIAM) createRole(ctx context.Context, r *Role) error {
	trust := r.TrustPolicy
	if trust == nil {
		trust = map[string]any{"Version": "2012-10-17", "Statement": []any{}}
	}
	trustJSON, err := json.Marshal(trust)
	if err != nil {
		return err
	}
	if err := c.call(ctx, url.Values{"Action": {"CreateRole"}, "RoleName": {r.Name}, "AssumeRolePolicyDocument": {string(trustJSON)}}, nil); err != nil {
		return err
	}
	doc := motoPolicy(r.Policy)
	if doc["Statement"] == nil {
		return nil
	}
	policyJSON, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return c.call(ctx, url.Values{"Action": {"PutRolePolicy"}, "RoleName": {r.Name}, "PolicyName": {"iamlocal"}, "PolicyDocument": {string(policyJSON)}}, nil)
}

func (c *motoIAM) createAdmin(ctx context.Context) (aws.Credentials, error) {
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	for _, q := range []url.Values{
		{"Action": {"CreateUser"}, "UserName": {AdminName}},
		{"Action": {"PutUserPolicy"}, "UserName": {AdminName}, "PolicyName": {"admin"}, "PolicyDocument": {policy}},
	} {
		if err := c.call(ctx, q, nil); err != nil {
			return aws.Credentials{}, err
		}
	}
	var out struct {
		Key struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
		} `xml:"CreateAccessKeyResult>AccessKey"`
	}
	if err := c.call(ctx, url.Values{"Action": {"CreateAccessKey"}, "UserName": {AdminName}}, &out); err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{AccessKeyID: out.Key.AccessKeyID, SecretAccessKey: out.Key.SecretAccessKey, Source: "moto"}, nil
}

// call posts one IAM Query action, signed for moto to route it to IAM.
func (c *motoIAM) call(ctx context.Context, q url.Values, out any) error {
	q.Set("Version", "2010-05-08")
	body := q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "setup", SecretAccessKey: "setup"}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "iam", motolocal.Region, time.Now()); err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", q.Get("Action"), err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", q.Get("Action"), err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", q.Get("Action"), res.StatusCode, raw)
	}
	if out != nil {
		if err := xml.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s: %w", q.Get("Action"), err)
		}
	}
	return nil
}
