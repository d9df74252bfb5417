package localstack

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"dirsync/internal/domain"
	"dirsync/local/dynamolocal"
	"dirsync/local/fakeentra"
	"dirsync/local/iamlocal"
	"dirsync/local/sfnlocal"
)

// A preview whose worker crashed mid-read (its execution environment died,
// as when Lambda kills an invocation out of memory) is retried by Lambda;
// the retry waits for the dead worker's lease, which lapses, and the sync
// ends PREVIEW_FAILED worker_lost: the tenant can preview again.
func TestCrashedWorkerEndsWorkerLost(t *testing.T) {
	c := adminOf(t, "killed")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", Domain: "killed.onmicrosoft.com", Seed: 13, Users: 1500})
	connectTenant(t, c, dir, `{}`)
	started := crashMidRead(t, c)

	var sy syncBody
	c.do("GET", "/v1/syncs/"+started.ID, nil, &sy)
	if sy.Status != string(domain.SyncPreviewing) {
		t.Fatalf("right after the crash: %s %+v (the lease has not lapsed yet)", sy.Status, sy.Error)
	}
	lapseLease(t, "killed")
	c.do("GET", "/v1/syncs/"+started.ID, nil, &sy)
	if sy.Status != string(domain.SyncPreviewFailed) || sy.Error == nil || sy.Error.Code != domain.SyncErrWorkerLost {
		t.Fatalf("after the lease lapsed: %s %+v, want PREVIEW_FAILED worker_lost", sy.Status, sy.Error)
	}
	// Reads derive worker_lost; the next preview stores it and takes over,
	// and the retry, finding the lease lapsed, leaves it alone.
	if again := c.preview(); again.Status != string(domain.SyncPreviewReady) {
		t.Fatalf("the next preview: %s %+v", again.Status, again.Error)
	}
	var stored syncBody
	c.do("GET", "/v1/syncs/"+started.ID, nil, &stored)
	if stored.Status != string(domain.SyncPreviewFailed) || stored.Error == nil || stored.Error.Code != domain.SyncErrWorkerLost {
		t.Fatalf("the lost preview after the takeover: %s %+v", stored.Status, stored.Error)
	}
}

// A worker that crashes on its first attempt and on Lambda's retry goes to
// the OnFailure destination (finalize), which fails the sync at once,
// without waiting for the lease to lapse.
func TestWorkerCrashingTwiceEndsInOnFailure(t *testing.T) {
	c := adminOf(t, "crashy")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "0d1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a", Domain: "crashy.onmicrosoft.com", Seed: 19, Users: 1200})
	connectTenant(t, c, dir, `{}`)
	started := crashMidRead(t, c)
	// The retry waits for the dead worker's lease; it crashes too.
	waitUntil(t, "the retry is running", func() bool {
		for _, in := range stack.Lambda.Instances() {
			if in.Function == "PreviewWorkerFunction" && in.Busy {
				return true
			}
		}
		return false
	})
	if n := stack.CrashWorkers(); n != 1 {
		t.Fatalf("the retry: crashed %d invocations, want 1", n)
	}
	var sy syncBody
	waitUntil(t, "finalize failed the preview", func() bool {
		c.do("GET", "/v1/syncs/"+started.ID, nil, &sy)
		return sy.Status != string(domain.SyncPreviewing)
	})
	if sy.Status != string(domain.SyncPreviewFailed) || sy.Error == nil || sy.Error.Code != domain.SyncErrWorkerLost ||
		!strings.Contains(sy.Error.Message, "Runtime.ExitError") {
		t.Fatalf("after two crashes: %s %+v, want PREVIEW_FAILED worker_lost naming Runtime.ExitError", sy.Status, sy.Error)
	}
	// Finalize, which ended it, announced it, with the code only.
	evs := syncEventsOnce(t, stack, started.ID, 1)
	if len(evs) != 1 || evs[0].DetailType != "Preview Failed" || evs[0].Detail.Error == nil || evs[0].Detail.Error.Code != domain.SyncErrWorkerLost ||
		bytes.Contains(evs[0].raw, []byte("Runtime.ExitError")) {
		t.Errorf("events after OnFailure: %v, want one Preview Failed worker_lost", eventTypes(evs))
	}
	// The lock went with it: the tenant previews again at once.
	if again := c.preview(); again.Status != string(domain.SyncPreviewReady) {
		t.Fatalf("the next preview: %s %+v", again.Status, again.Error)
	}
}

// crashMidRead starts a preview, crashes its worker while it waits for the
// second page of users, and returns once Lambda started the retry (which
// waits for the lease the dead worker held).
func crashMidRead(t *testing.T, c *client) syncBody {
	t.Helper()
	// No earlier test's worker (a retry waiting for a lease) may be
	// running: the crash is this preview's.
	stack.WaitIdle()
	before := workerInvocations()
	slow := stack.Fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultSlow, Delay: time.Minute})
	defer slow()
	stack.Fake.ResetRequests()
	var started syncBody
	// A full read whatever the tenant's mirror: the crash is mid-partition.
	if code := c.do("POST", "/v1/syncs", `{"fullRead":true}`, &started); code != http.StatusAccepted {
		t.Fatalf("POST /v1/syncs = %d", code)
	}
	waitUntil(t, "the worker read page 1", func() bool {
		for _, r := range stack.Fake.Requests() {
			if r.Path == "/v1.0/users" && r.Page == 1 && r.Status == http.StatusOK {
				return true
			}
		}
		return false
	})
	time.Sleep(200 * time.Millisecond) // now waiting for the slow page 2
	if n := stack.CrashWorkers(); n != 1 {
		t.Fatalf("crashed %d worker invocations, want 1", n)
	}
	waitUntil(t, "Lambda retried the worker", func() bool { return workerInvocations() >= before+2 })
	return started
}

// workerInvocations counts the preview worker's invocations so far.
func workerInvocations() int { return stack.Lambda.Invocations("PreviewWorkerFunction") }

// lapseLease moves the tenant's preview lease into the past, as the passing
// of PREVIEW_LOCK without a renewal would.
func lapseLease(t *testing.T, tenant string) {
	t.Helper()
	db := dynamolocal.Client(stack.dynamo.Endpoint)
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.Config.SyncTable),
		Key: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "T#" + tenant}, "sk": &ddbtypes.AttributeValueMemberS{Value: "LOCK"},
		},
		UpdateExpression:          aws.String("SET #until = :past"),
		ConditionExpression:       aws.String("attribute_exists(#until)"),
		ExpressionAttributeNames:  map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":past": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)}},
	})
	if err != nil {
		t.Fatalf("lapse %s's lease: %v", tenant, err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A malformed or incomplete Graph read never becomes deactivations or
// removals: with deactivateMissing on and the threshold at 100 % (so only
// the read protects the directory), every malformed page fails the preview
// and stores nothing to confirm.
func TestMalformedGraphReadsNeverDeactivate(t *testing.T) {
	c := adminOf(t, "hooli")
	dir := onePartition(fakeentra.Generate(fakeentra.Spec{TenantID: "8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e", Domain: "hooli.onmicrosoft.com", Seed: 17, Users: 1300}))
	connectTenant(t, c, dir, `{"deactivateMissing":true,"deactivationThreshold":{"percent":100,"count":100000}}`)
	first := c.preview()
	if first.Status != string(domain.SyncPreviewReady) || first.Counts.Users.Add < 999 || first.Counts.Groups.Add == 0 {
		t.Fatalf("first preview %+v", first)
	}
	if code := c.do("POST", "/v1/syncs/"+first.ID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	if p := c.waitApplied(first.ID); p.Status != string(domain.SyncCompleted) {
		t.Fatalf("first apply %+v", p)
	}

	// Full reads, then re-syncs reading the changes since the first.
	tests := []struct {
		name  string
		fault fakeentra.Fault
		code  string
		delta bool
	}{
		{"users page 2: empty 200", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultEmptyBody}, domain.SyncErrSourceRead, false},
		{"users page 2: 204", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultNoContent}, domain.SyncErrSourceRead, false},
		{"users page 2: null", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultBody, Body: "null"}, domain.SyncErrSourceRead, false},
		{"users page 2: {}", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultBody, Body: "{}"}, domain.SyncErrSourceRead, false},
		{"users page 2: no value", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultNoValue}, domain.SyncErrSourceRead, false},
		{"users page 2: truncated", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultTruncated}, domain.SyncErrSourceRead, false},
		{"users page 2: nextLink repeated", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultRepeatNextLink}, domain.SyncErrSourceRead, false},
		{"users page 1: nextLink to another host", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 1, Kind: fakeentra.FaultForeignNextLink}, domain.SyncErrSourceRead, false},
		{"users page 1: nextLink dropped", fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 1, Kind: fakeentra.FaultDropNextLink}, domain.SyncErrSourceIncomplete, false},
		{"groups page 1: {}", fakeentra.Fault{PathPrefix: "/v1.0/groups", Page: 1, Kind: fakeentra.FaultBody, Body: "{}"}, domain.SyncErrSourceRead, false},
		{"groups delta page 1: truncated", fakeentra.Fault{PathPrefix: "/v1.0/groups/delta", Page: 1, Kind: fakeentra.FaultTruncated}, domain.SyncErrSourceRead, false},
		{"groups delta page 1: no value", fakeentra.Fault{PathPrefix: "/v1.0/groups/delta", Page: 1, Kind: fakeentra.FaultNoValue}, domain.SyncErrSourceRead, false},
		{"re-sync, users delta: empty 200", fakeentra.Fault{PathPrefix: "/v1.0/users/delta", Page: 1, Kind: fakeentra.FaultEmptyBody}, domain.SyncErrSourceRead, true},
		{"re-sync, users delta: 204", fakeentra.Fault{PathPrefix: "/v1.0/users/delta", Page: 1, Kind: fakeentra.FaultNoContent}, domain.SyncErrSourceRead, true},
		{"re-sync, groups delta: truncated", fakeentra.Fault{PathPrefix: "/v1.0/groups/delta", Page: 1, Kind: fakeentra.FaultTruncated}, domain.SyncErrSourceRead, true},
		{"re-sync, groups delta: 500", fakeentra.Fault{PathPrefix: "/v1.0/groups/delta", Page: 1, Kind: fakeentra.FaultStatus, Status: 500}, domain.SyncErrSourceRead, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any = map[string]bool{"fullRead": true}
			if tt.delta {
				body = nil
			}
			remove := stack.Fake.InjectFault(tt.fault)
			sy := c.previewWith(body)
			remove()
			if kind, _ := readOf(sy); sy.Status == string(domain.SyncPreviewReady) && kind != map[bool]string{true: "delta", false: "full"}[tt.delta] {
				t.Fatalf("the preview read %q", kind)
			}
			if sy.Status != string(domain.SyncPreviewFailed) || sy.Error == nil || sy.Error.Code != tt.code {
				t.Fatalf("sync = %s %+v, want PREVIEW_FAILED %s", sy.Status, sy.Error, tt.code)
			}
			if tt.code == domain.SyncErrSourceIncomplete && !strings.Contains(sy.Error.Message, "1,300") {
				t.Fatalf("message %q does not state Graph's count", sy.Error.Message)
			}
			for _, kind := range []string{"deactivate", "remove"} {
				if got := c.changes(sy.ID, "&kind="+kind); len(got) != 0 {
					t.Fatalf("a failed preview stored %d %s changes", len(got), kind)
				}
			}
			var e apiError
			if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{"allowDeactivations":true}`, &e); code != http.StatusConflict {
				t.Fatalf("confirm of the failed preview = %d %+v, want 409", code, e)
			}
		})
	}
	// The same directory read cleanly plans nothing to deactivate, read
	// as the changes since the first preview or in full.
	for _, body := range []any{nil, map[string]bool{"fullRead": true}} {
		clean := c.previewWith(body)
		if clean.Status != string(domain.SyncPreviewReady) || clean.Counts.Users.Deactivate != 0 || clean.Counts.Groups.Remove != 0 {
			t.Fatalf("clean preview %+v", clean)
		}
		if kind, _ := readOf(clean); (body == nil) != (kind == "delta") {
			t.Fatalf("clean preview read %q", kind)
		}
	}
}

// The console deployed on its own origin can call the API: preflights are
// answered by the gateway without a token, for the allowed origins only.
func TestCORSPreflight(t *testing.T) {
	for _, tc := range []struct {
		origin  string
		allowed bool
	}{{stack.ConsoleURL, true}, {stack.URL, false}, {"https://evil.example", false}} {
		req, _ := http.NewRequest(http.MethodOptions, stack.URL+"/v1/syncs", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("Access-Control-Allow-Origin")
		if res.StatusCode != http.StatusNoContent || (got == tc.origin) != tc.allowed {
			t.Fatalf("preflight from %s: %d, Access-Control-Allow-Origin %q", tc.origin, res.StatusCode, got)
		}
	}
}

// A confirm starts its execution through the Step Functions API, as the
// confirm function does in AWS: ops see it there by the sync's name.
func TestConfirmGoesThroughTheStepFunctionsAPI(t *testing.T) {
	c := adminOf(t, "stark")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f", Domain: "stark.onmicrosoft.com", Seed: 23, Users: 60})
	connectTenant(t, c, dir, `{}`)
	sy := c.preview()
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	if p := c.waitApplied(sy.ID); p.Status != string(domain.SyncCompleted) {
		t.Fatalf("apply %+v", p)
	}
	sfnAs := func(p *iamlocal.Principal) *sfn.Client {
		return sfn.New(sfn.Options{Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(stack.URL + stepFunctionsPath), Credentials: p.Provider()})
	}
	ctx := context.Background()
	// The confirm function's role starts, describes and stops executions;
	// listing them is not its business.
	confirmRole, err := stack.Principals.For("ConfirmFunction")
	if err != nil {
		t.Fatal(err)
	}
	var apiErr smithy.APIError
	if _, err := sfnAs(confirmRole).ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(stack.StateMachineARN)}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("ListExecutions as the confirm function's role = %v, want AccessDeniedException", err)
	}
	client := sfnAs(stack.Principals.Admin())
	list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(stack.StateMachineARN)})
	if err != nil {
		t.Fatal(err)
	}
	var found *types.ExecutionListItem
	for i := range list.Executions {
		if aws.ToString(list.Executions[i].Name) == "sync-"+sy.ID {
			found = &list.Executions[i]
		}
	}
	if found == nil {
		t.Fatalf("no execution sync-%s among %d", sy.ID, len(list.Executions))
	}
	// finalize completed the sync; the execution ends right after it.
	var desc *sfn.DescribeExecutionOutput
	waitUntil(t, "the execution ended", func() bool {
		desc, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: found.ExecutionArn})
		return err != nil || desc.Status != types.ExecutionStatusRunning
	})
	if err != nil || desc.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("DescribeExecution = %v, %v", desc.Status, err)
	}
}

// An execution that ends outside the state machine's own paths (here an
// operator stops it from the Step Functions console) would leave its sync
// APPLYING with the tenant locked: Step Functions' status change reaches
// finalize through the template's EventBridge rule, which fails the sync.
func TestAbortedExecutionReachesFinalizeThroughEventBridge(t *testing.T) {
	c := adminOf(t, "oscorp")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "3a4b5c6d-7e8f-4a9b-8c0d-1e2f3a4b5c6d", Domain: "oscorp.onmicrosoft.com", Seed: 37, Users: 250})
	connectTenant(t, c, dir, `{}`)
	sy := c.preview()
	// The first apply batch hangs on DynamoDB, so the execution is running.
	defer stack.DelayDynamoDB("ApplyFunction", 10*time.Second, 1)()
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	client := sfn.New(sfn.Options{Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(stack.URL + stepFunctionsPath),
		Credentials: stack.Principals.Admin().Provider()})
	arn := stack.Runner.ExecutionID("sync-" + sy.ID)
	if _, err := client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn),
		Error: aws.String("Operator"), Cause: aws.String("stopped from the console")}); err != nil {
		t.Fatal(err)
	}
	var got syncBody
	waitUntil(t, "finalize failed the sync", func() bool {
		c.do("GET", "/v1/syncs/"+sy.ID, nil, &got)
		return got.Status != string(domain.SyncApplying)
	})
	if got.Status != string(domain.SyncFailed) || got.Error == nil || got.Error.Code != domain.SyncErrApplyAborted {
		t.Fatalf("after the abort: %s %+v, want FAILED apply_aborted", got.Status, got.Error)
	}
	// The lock went with it.
	if again := c.preview(); again.Status != string(domain.SyncPreviewReady) {
		t.Fatalf("the next preview: %s %+v", again.Status, again.Error)
	}
}
