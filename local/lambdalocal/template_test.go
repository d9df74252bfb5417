package lambdalocal_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dirsync/internal/samtemplate"
	"dirsync/local/lambdalocal"
	"dirsync/local/sfnlocal"
)

// templateFunctions are template.yaml's functions as the local stack
// deploys them: transformed, every resource named by its logical id.
func templateFunctions(t *testing.T) []lambdalocal.Function {
	t.Helper()
	setup(t)
	path := filepath.Join(repoRoot, "template.yaml")
	src, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := samtemplate.Transform(context.Background(), path, samtemplate.TransformOptions{
		Parameters: map[string]string{"JwtIssuer": "https://issuer/", "JwtAudience": "aud", "CorsAllowedOrigins": "https://console"},
		Region:     sfnlocal.LocalRegion, AccountID: sfnlocal.LocalAccountID, StackName: "local", Names: samtemplate.LogicalIDNames,
	})
	if err != nil {
		t.Fatal(err)
	}
	fns, err := lambdalocal.FunctionsFromTemplate(d, src)
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

func byName(fns []lambdalocal.Function, name string) lambdalocal.Function {
	for _, f := range fns {
		if f.Name == name {
			return f
		}
	}
	return lambdalocal.Function{}
}

// Every function of template.yaml comes out with its Globals, timeout,
// memory, environment and EventInvokeConfig, as CloudFormation gets them
// from the transform, named as the local stack names things.
func TestFunctionsFromTemplate(t *testing.T) {
	fns := templateFunctions(t)
	if len(fns) != 8 {
		t.Errorf("%d functions, want the template's 8", len(fns))
	}
	w := byName(fns, "PreviewWorkerFunction")
	if w.Package != "./functions/previewworker" || w.ARN != sfnlocal.LocalARN("PreviewWorkerFunction") ||
		w.Timeout != 900*time.Second || w.MemoryMB != 3008 {
		t.Errorf("worker %+v", w)
	}
	if a := w.Async; a.MaximumRetryAttempts == nil || *a.MaximumRetryAttempts != 1 || a.MaximumEventAge != 600*time.Second ||
		a.OnFailure != sfnlocal.LocalARN("FinalizeFunction") {
		t.Errorf("worker EventInvokeConfig %+v", a)
	}
	wantEnv := map[string]string{
		"SECRET_PREFIX": "directory-sync", "TENANT_CLAIM": "tenant_id", "ROLES_CLAIM": "roles", "PREVIEW_TTL": "24h",
		"GRAPH_ENDPOINT": "", "AZURE_AUTHORITY_HOST": "", "DIRECTORY_TABLE": "DirectoryTable", "SYNC_TABLE": "SyncTable",
		"APPLY_BATCH_SIZE": "100", "APPLY_MAX_CONCURRENCY": "10", "AWS_LAMBDA_LOG_FORMAT": "JSON", "EVENT_BUS_NAME": "default",
	}
	if len(w.Environment) != len(wantEnv) {
		t.Errorf("worker environment %v, want %v", w.Environment, wantEnv)
	}
	for k, v := range wantEnv {
		if got, ok := w.Environment[k]; !ok || got != v {
			t.Errorf("worker %s=%q, want %q", k, got, v)
		}
	}
	p := byName(fns, "ProgressFunction")
	if p.Timeout != 20*time.Second || p.MemoryMB != 256 || p.Async.OnFailure != "" {
		t.Errorf("progress %+v", p)
	}
	if got := byName(fns, "PreviewFunction").Environment["PREVIEW_WORKER_FUNCTION"]; got != "PreviewWorkerFunction" {
		t.Errorf("PREVIEW_WORKER_FUNCTION=%q: a function's Ref is its local name", got)
	}
	if got := byName(fns, "ConfirmFunction").Environment["APPLY_STATE_MACHINE"]; got != "arn:aws:states:"+sfnlocal.LocalRegion+":"+sfnlocal.LocalAccountID+":stateMachine:ApplyStateMachine" {
		t.Errorf("APPLY_STATE_MACHINE=%q", got)
	}
	if f := byName(fns, "FinalizeFunction"); f.Timeout != 60*time.Second || f.MemoryMB != 512 {
		t.Errorf("finalize %+v", f)
	}

}

// A real function of the repository, built from functions/progress with
// its template configuration, runs under the emulator: an API Gateway
// payload 2.0 event without the authorizer's claims gets its 401.
func TestRealFunctionProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("builds functions/progress")
	}
	fn := byName(templateFunctions(t), "ProgressFunction")
	start := time.Now()
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{fn}, BuildDir: t.TempDir()})
	t.Logf("built %s in %s", fn.Package, time.Since(start).Round(time.Millisecond))
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "GET /v1/syncs/{id}/progress", RawPath: "/v1/syncs/s-1/progress",
		Headers:        map[string]string{"accept": "application/json"},
		PathParameters: map[string]string{"id": "s-1"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-1", DomainName: "api.localhost",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/syncs/s-1/progress", SourceIP: "127.0.0.1"},
		},
	}
	payload, _ := json.Marshal(ev)
	res, err := svc.Invoke(context.Background(), "ProgressFunction", payload)
	if err != nil {
		t.Fatal(err)
	}
	if res.FunctionError != "" {
		t.Fatalf("function error: %s", res.Payload)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Errorf("body %q is not JSON: %v", resp.Body, err)
	}
	if resp.StatusCode != 401 && resp.StatusCode != 403 {
		t.Errorf("status %d, want 401 or 403: %s", resp.StatusCode, resp.Body)
	}
	t.Logf("progress answered %d %s in %s (cold start)", resp.StatusCode, resp.Body, res.Duration.Round(time.Millisecond))
}
