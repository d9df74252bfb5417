package localstack

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/dynamolocal"
	"dirsync/local/fakeentra"
)

// These tests run stacks of their own from altered copies of template.yaml,
// to show that what the template says is what runs: a function's timeout
// kills it, and its role's policies are all it may do.

// alteredStack starts a stack on a copy of template.yaml in which each
// old string (which must occur exactly once) is replaced by its new one.
func alteredStack(t *testing.T, edits ...[2]string) *Stack {
	t.Helper()
	return alteredStackWith(t, nil, edits...)
}

// alteredStackWith is alteredStack with the functions' output to out.
func alteredStackWith(t *testing.T, out io.Writer, edits ...[2]string) *Stack {
	t.Helper()
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tpl := string(raw)
	for _, e := range edits {
		if n := strings.Count(tpl, e[0]); n != 1 {
			t.Fatalf("template.yaml holds %q %d times, want once: the test no longer alters what it means to", e[0], n)
		}
		tpl = strings.Replace(tpl, e[0], e[1], 1)
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(tpl), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{Addr: "127.0.0.1:0", Root: root, Template: path, FunctionOutput: out,
		AsyncRetryDelays: []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}})
	if err != nil {
		t.Fatalf("start a stack on the altered template: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

// An apply batch that outlives the apply function's timeout is killed by
// Lambda (Sandbox.Timedout), and the Map's Retry runs it again: the sync
// completes with every change applied once.
func TestTimedOutBatchIsKilledAndRetried(t *testing.T) {
	const applyTimeout = "      Timeout: 300\n      MemorySize: 1024\n"
	st := alteredStack(t, [2]string{applyTimeout, "      Timeout: 2\n      MemorySize: 1024\n"})
	c := adminOn(t, st, "tyrell")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b", Domain: "tyrell.onmicrosoft.com", Seed: 29, Users: 150})
	connectTenant(t, c, dir, `{}`)
	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Add == 0 {
		t.Fatalf("preview %s %+v", sy.Status, sy.Counts)
	}
	// The first batch's first DynamoDB call hangs past the 2 s timeout.
	defer st.DelayDynamoDB("ApplyFunction", 5*time.Second, 1)()
	invoked, started := st.Lambda.Invocations("ApplyFunction"), st.Lambda.Started("ApplyFunction")
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	p := c.waitApplied(sy.ID)
	if p.Status != string(domain.SyncCompleted) || p.Failed != 0 || p.Succeeded != p.Total {
		t.Fatalf("after a timed-out batch: %+v, want COMPLETED with every change applied", p)
	}
	batches := (sy.Counts.Users.Add + 99) / 100 // ApplyBatchSize's default, 100
	if got := st.Lambda.Invocations("ApplyFunction") - invoked; got < batches+1 {
		t.Errorf("apply invoked %d times for %d user batches, want at least one retry", got, batches)
	}
	// Lambda resets a timed-out environment: a fresh instance served the retry.
	if st.Lambda.Started("ApplyFunction") == started {
		t.Error("no new apply instance started after the timeout")
	}
	users := c.users()
	if len(users) != sy.Counts.Users.Add {
		t.Errorf("%d users after the apply, want %d", len(users), sy.Counts.Users.Add)
	}
}

// A statement removed from template.yaml is a permission the function no
// longer has: the preview worker, without secretsmanager:GetSecretValue,
// fails with AccessDenied, and after Lambda's retry its sync ends
// PREVIEW_FAILED through the OnFailure path.
func TestRemovedStatementFailsWithAccessDenied(t *testing.T) {
	const workerSecretGrant = "            - Effect: Allow\n              Action: secretsmanager:GetSecretValue\n" +
		"              Resource: !Sub \"arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretPrefix}/*\"\n"
	st := alteredStack(t, [2]string{workerSecretGrant, ""})
	c := adminOn(t, st, "cyberdyne")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "2f3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6c", Domain: "cyberdyne.onmicrosoft.com", Seed: 31, Users: 40})
	connectTenant(t, c, dir, `{}`) // the connection function keeps its grant
	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewFailed) || sy.Error == nil || !strings.Contains(sy.Error.Message, "AccessDenied") {
		t.Fatalf("preview without the worker's secret grant: %s %+v, want PREVIEW_FAILED naming AccessDenied", sy.Status, sy.Error)
	}
	if n := st.Lambda.Invocations("PreviewWorkerFunction"); n != 2 {
		t.Errorf("the worker ran %d times, want 2 (Lambda's one retry, then OnFailure)", n)
	}
}
