package sfnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dirsync/internal/sfnexec"
	"dirsync/local/sfnlocal"
)

// One stack for the tests that need a single state machine: each Node
// runner costs a process on a small machine.
func TestAPI(t *testing.T) {
	s := newStack(t)
	t.Run("SucceededExecutionIsDescribed", func(t *testing.T) { testSucceeded(t, s) })
	t.Run("FailedExecutionReportsErrorAndCause", func(t *testing.T) { testFailed(t, s) })
	t.Run("StartIsIdempotentOnlyWhileRunningWithSameInput", func(t *testing.T) { testIdempotent(t, s) })
	t.Run("StartValidatesLikeStepFunctions", func(t *testing.T) { testValidation(t, s) })
	t.Run("UnknownExecutionDoesNotExist", func(t *testing.T) { testUnknownExecution(t, s) })
	t.Run("StopAbortsRunningAndIgnoresClosed", func(t *testing.T) { testStop(t, s) })
	t.Run("ConcurrentStartsAreOneExecution", func(t *testing.T) { testConcurrentStarts(t, s) })
	t.Run("UnknownOperationAndBadBody", func(t *testing.T) { testProtocolErrors(t, s) })
	t.Run("SfnexecAdapter", func(t *testing.T) { testSfnexec(t, s) })
}

func testSucceeded(t *testing.T, s *stack) {
	before := time.Now().Add(-time.Second)
	out := s.start(t, s.arn(), "ok-1", `{"value": 42}`)
	wantARN := "arn:aws:states:" + sfnlocal.LocalRegion + ":" + sfnlocal.LocalAccountID + ":execution:Probe:ok-1"
	if aws.ToString(out.ExecutionArn) != wantARN {
		t.Fatalf("executionArn %s, want %s", aws.ToString(out.ExecutionArn), wantARN)
	}
	if out.StartDate == nil || out.StartDate.Before(before) || out.StartDate.After(time.Now().Add(time.Second)) {
		t.Fatalf("startDate %v is not now", out.StartDate)
	}
	desc := s.await(t, wantARN)
	if desc.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s, want SUCCEEDED (error %q cause %q)", desc.Status, aws.ToString(desc.Error), aws.ToString(desc.Cause))
	}
	var output map[string]map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(desc.Output)), &output); err != nil || output["done"]["echo"] != 42.0 {
		t.Fatalf("output %q (%v), want {\"done\":{\"echo\":42}}", aws.ToString(desc.Output), err)
	}
	if aws.ToString(desc.Input) != `{"value": 42}` || aws.ToString(desc.Name) != "ok-1" || aws.ToString(desc.StateMachineArn) != s.arn() {
		t.Fatalf("input %q name %q machine %q", aws.ToString(desc.Input), aws.ToString(desc.Name), aws.ToString(desc.StateMachineArn))
	}
	if !desc.StartDate.Equal(*out.StartDate) {
		t.Fatalf("describe startDate %v, start said %v", desc.StartDate, out.StartDate)
	}
	if desc.StopDate == nil || desc.StopDate.Before(*desc.StartDate) {
		t.Fatalf("stopDate %v before startDate %v", desc.StopDate, desc.StartDate)
	}
	if desc.StartDate.Nanosecond()%int(time.Millisecond) != 0 {
		t.Fatalf("startDate %v has more than millisecond precision", desc.StartDate)
	}
}

func testFailed(t *testing.T, s *stack) {
	out := s.start(t, s.arn(), "fail-1", `{"fail": true}`)
	desc := s.await(t, aws.ToString(out.ExecutionArn))
	if desc.Status != types.ExecutionStatusFailed || aws.ToString(desc.Error) != "WorkFailed" || !strings.Contains(aws.ToString(desc.Cause), "work failed on purpose") {
		t.Fatalf("status %s error %q cause %q, want FAILED WorkFailed", desc.Status, aws.ToString(desc.Error), aws.ToString(desc.Cause))
	}
	if desc.Output != nil || desc.StopDate == nil {
		t.Fatalf("output %v stopDate %v", desc.Output, desc.StopDate)
	}
}

func testIdempotent(t *testing.T, s *stack) {
	input := `{"hold": "idem"}`
	first := s.start(t, s.arn(), "idem", input)
	time.Sleep(5 * time.Millisecond) // a second start at another millisecond
	second := s.start(t, s.arn(), "idem", input)
	if aws.ToString(second.ExecutionArn) != aws.ToString(first.ExecutionArn) || !second.StartDate.Equal(*first.StartDate) {
		t.Fatalf("repeat start gave %s at %v, first %s at %v", aws.ToString(second.ExecutionArn), second.StartDate, aws.ToString(first.ExecutionArn), first.StartDate)
	}
	// The same JSON value written differently is the same input.
	if _, err := s.client.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.arn()), Name: aws.String("idem"), Input: aws.String(`{ "hold" : "idem" }`),
	}); err != nil {
		t.Fatalf("same input re-spaced: %v", err)
	}
	_, err := s.client.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.arn()), Name: aws.String("idem"), Input: aws.String(`{"hold": "other"}`),
	})
	var exists *types.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Fatalf("other input while running: %v, want ExecutionAlreadyExists", err)
	}
	s.gates.release("idem")
	if desc := s.await(t, aws.ToString(first.ExecutionArn)); desc.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s", desc.Status)
	}
	_, err = s.client.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.arn()), Name: aws.String("idem"), Input: aws.String(input),
	})
	if !errors.As(err, &exists) {
		t.Fatalf("same input once closed: %v, want ExecutionAlreadyExists", err)
	}
}

func testValidation(t *testing.T, s *stack) {
	tests := []struct {
		name, machine, execName, input, code string
	}{
		{"name of 81 characters", s.arn(), strings.Repeat("n", 81), `{}`, "ValidationException"},
		{"name with a space", s.arn(), "a b", `{}`, "InvalidName"},
		{"name with a slash", s.arn(), "a/b", `{}`, "InvalidName"},
		{"name with a control character", s.arn(), "a\x01b", `{}`, "InvalidName"},
		{"input over 256 KiB", s.arn(), "big", `{"x":"` + strings.Repeat("x", 256*1024) + `"}`, "ValidationException"},
		{"input not JSON", s.arn(), "notjson", `{"x":`, "InvalidExecutionInput"},
		{"unknown state machine", strings.Replace(s.arn(), ":Probe", ":Nope", 1), "x", `{}`, "StateMachineDoesNotExist"},
		{"not a state machine ARN", "arn:aws:lambda:us-east-1:1:function:F", "x", `{}`, "InvalidArn"},
		{"80 characters of the allowed set", s.arn(), strings.Repeat("é-_.", 20), `{}`, ""},
		{"input of exactly 256 KiB", s.arn(), "exact", `{"x":"` + strings.Repeat("x", 256*1024-8) + `"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.client.StartExecution(context.Background(), &sfn.StartExecutionInput{
				StateMachineArn: aws.String(tt.machine), Name: aws.String(tt.execName), Input: aws.String(tt.input),
			})
			if got := code(err); got != tt.code {
				t.Fatalf("error code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	// Without a name Step Functions names the execution with a UUID.
	out, err := s.client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(s.arn())})
	if err != nil {
		t.Fatal(err)
	}
	desc := s.await(t, aws.ToString(out.ExecutionArn))
	if len(aws.ToString(desc.Name)) != 36 || aws.ToString(desc.Input) != "{}" {
		t.Fatalf("unnamed execution: name %q input %q", aws.ToString(desc.Name), aws.ToString(desc.Input))
	}
}

func testUnknownExecution(t *testing.T, s *stack) {
	prefix := strings.Replace(s.arn(), ":stateMachine:", ":execution:", 1)
	for arn, want := range map[string]string{
		prefix + ":never": "ExecutionDoesNotExist",
		strings.Replace(prefix, "Probe", "Nope", 1) + ":x": "ExecutionDoesNotExist",
		"not-an-arn": "InvalidArn",
	} {
		_, err := s.client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if got := code(err); got != want {
			t.Errorf("DescribeExecution %s: %q (%v), want %q", arn, got, err, want)
		}
		_, err = s.client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)})
		if got := code(err); got != want {
			t.Errorf("StopExecution %s: %q (%v), want %q", arn, got, err, want)
		}
	}
	var missing *types.ExecutionDoesNotExist
	_, err := s.client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(prefix + ":never")})
	if !errors.As(err, &missing) {
		t.Fatalf("the SDK did not decode *types.ExecutionDoesNotExist: %T %v", err, err)
	}
}

func testStop(t *testing.T, s *stack) {
	calls := s.calls.Load()
	out := s.start(t, s.arn(), "stop-me", `{"hold": "stop-me"}`)
	arn := aws.ToString(out.ExecutionArn)
	s.awaitCalls(t, calls+1)
	if desc := s.describe(t, arn); desc.Status != types.ExecutionStatusRunning || desc.StopDate != nil {
		t.Fatalf("held execution: status %s stopDate %v", desc.Status, desc.StopDate)
	}
	stopped, err := s.client.StopExecution(context.Background(), &sfn.StopExecutionInput{
		ExecutionArn: aws.String(arn), Error: aws.String("Cancelled"), Cause: aws.String("the user cancelled"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if stopped.StopDate == nil {
		t.Fatal("StopExecution returned no stopDate")
	}
	desc := s.describe(t, arn)
	if desc.Status != types.ExecutionStatusAborted || aws.ToString(desc.Error) != "Cancelled" || aws.ToString(desc.Cause) != "the user cancelled" {
		t.Fatalf("stopped: status %s error %q cause %q", desc.Status, aws.ToString(desc.Error), aws.ToString(desc.Cause))
	}
	if desc.StopDate == nil || !desc.StopDate.Equal(*stopped.StopDate) {
		t.Fatalf("describe stopDate %v, stop said %v", desc.StopDate, stopped.StopDate)
	}
	// Stopping it again, or stopping a succeeded execution, changes nothing.
	again, err := s.client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn), Cause: aws.String("again")})
	if err != nil || !again.StopDate.Equal(*stopped.StopDate) {
		t.Fatalf("second stop: %v, stopDate %v want %v", err, again.StopDate, stopped.StopDate)
	}
	if desc := s.describe(t, arn); aws.ToString(desc.Cause) != "the user cancelled" {
		t.Fatalf("second stop changed the cause to %q", aws.ToString(desc.Cause))
	}
	done := s.start(t, s.arn(), "stop-done", `{}`)
	s.await(t, aws.ToString(done.ExecutionArn))
	if _, err := s.client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: done.ExecutionArn}); err != nil {
		t.Fatalf("stop of a succeeded execution: %v", err)
	}
	if desc := s.describe(t, aws.ToString(done.ExecutionArn)); desc.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("stop changed a succeeded execution to %s", desc.Status)
	}
	// Too long an error is refused as the service's model refuses it.
	_, err = s.client.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn), Error: aws.String(strings.Repeat("e", 257))})
	if code(err) != "ValidationException" {
		t.Fatalf("error of 257 characters: %v", err)
	}
}

// TestListExecutions serves two state machines of its own, so TestAPI's
// executions do not count.
func TestListExecutions(t *testing.T) {
	ls := newStack(t, "Lister", "Other")
	arn := ls.arns["Lister"]
	for i := range 5 {
		name := fmt.Sprintf("list-%d", i)
		input := `{}`
		if i%2 == 1 {
			input = `{"hold": "` + name + `"}`
		}
		out := ls.start(t, arn, name, input)
		if i%2 == 0 {
			ls.await(t, aws.ToString(out.ExecutionArn))
		}
		time.Sleep(2 * time.Millisecond)
	}
	ls.start(t, ls.arns["Other"], "list-0", `{}`) // same name, other machine

	list := func(filter types.ExecutionStatus, max int32, token *string) *sfn.ListExecutionsOutput {
		t.Helper()
		out, err := ls.client.ListExecutions(context.Background(), &sfn.ListExecutionsInput{
			StateMachineArn: aws.String(arn), StatusFilter: filter, MaxResults: max, NextToken: token,
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	namesOf := func(out *sfn.ListExecutionsOutput) string {
		var got []string
		for _, e := range out.Executions {
			got = append(got, aws.ToString(e.Name)+"="+string(e.Status))
		}
		return strings.Join(got, ",")
	}
	if got := namesOf(list("", 0, nil)); got != "list-4=SUCCEEDED,list-3=RUNNING,list-2=SUCCEEDED,list-1=RUNNING,list-0=SUCCEEDED" {
		t.Fatalf("all: %s", got)
	}
	if got := namesOf(list(types.ExecutionStatusRunning, 0, nil)); got != "list-3=RUNNING,list-1=RUNNING" {
		t.Fatalf("RUNNING: %s", got)
	}
	if got := namesOf(list(types.ExecutionStatusAborted, 0, nil)); got != "" {
		t.Fatalf("ABORTED: %s", got)
	}
	// Pages of two; an execution started between pages appears on no later page.
	p1 := list("", 2, nil)
	if namesOf(p1) != "list-4=SUCCEEDED,list-3=RUNNING" || p1.NextToken == nil {
		t.Fatalf("page 1: %s token %v", namesOf(p1), p1.NextToken)
	}
	ls.start(t, arn, "list-5", `{}`)
	p2 := list("", 2, p1.NextToken)
	if namesOf(p2) != "list-2=SUCCEEDED,list-1=RUNNING" || p2.NextToken == nil {
		t.Fatalf("page 2: %s token %v", namesOf(p2), p2.NextToken)
	}
	p3 := list("", 2, p2.NextToken)
	if namesOf(p3) != "list-0=SUCCEEDED" || p3.NextToken != nil {
		t.Fatalf("page 3: %s token %v", namesOf(p3), p3.NextToken)
	}
	for _, e := range p3.Executions {
		if e.StartDate == nil || e.StopDate == nil || aws.ToString(e.StateMachineArn) != arn {
			t.Fatalf("item %+v lacks dates or machine", e)
		}
	}
	// The SDK's paginator follows the tokens.
	pager := sfn.NewListExecutionsPaginator(ls.client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), MaxResults: 4})
	n := 0
	for pager.HasMorePages() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Executions)
	}
	if n != 6 {
		t.Fatalf("paginator saw %d executions, want 6", n)
	}
	other, err := ls.client.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(ls.arns["Other"])})
	if err != nil || len(other.Executions) != 1 {
		t.Fatalf("Other: %v %v", err, other)
	}
	_, err = ls.client.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), NextToken: aws.String("garbage!")})
	if code(err) != "InvalidToken" {
		t.Fatalf("bad token: %v", err)
	}
	_, err = ls.client.ListExecutions(context.Background(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(strings.Replace(arn, "Lister", "Nope", 1))})
	if code(err) != "StateMachineDoesNotExist" {
		t.Fatalf("unknown machine: %v", err)
	}
}

func testConcurrentStarts(t *testing.T, s *stack) {
	const n = 8
	type answer struct {
		out *sfn.StartExecutionOutput
		err error
	}
	answers := make(chan answer, n)
	for range n {
		go func() {
			out, err := s.client.StartExecution(context.Background(), &sfn.StartExecutionInput{
				StateMachineArn: aws.String(s.arn()), Name: aws.String("race"), Input: aws.String(`{"hold": "race"}`),
			})
			answers <- answer{out, err}
		}()
	}
	var first *sfn.StartExecutionOutput
	for range n {
		a := <-answers
		out, err := a.out, a.err
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = out
		} else if aws.ToString(out.ExecutionArn) != aws.ToString(first.ExecutionArn) || !out.StartDate.Equal(*first.StartDate) {
			t.Fatalf("concurrent starts gave %s at %v and %s at %v", aws.ToString(out.ExecutionArn), out.StartDate, aws.ToString(first.ExecutionArn), first.StartDate)
		}
	}
	s.gates.release("race")
	if desc := s.await(t, aws.ToString(first.ExecutionArn)); desc.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s", desc.Status)
	}
}

func testProtocolErrors(t *testing.T, s *stack) {
	post := func(target, body string) (int, map[string]string) {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/", bytes.NewBufferString(body))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if status, body := post("AWSStepFunctions.CreateStateMachine", `{}`); status != 400 || body["__type"] != "UnknownOperationException" {
		t.Fatalf("unknown operation: %d %v", status, body)
	}
	if status, body := post("AWSStepFunctions.StartExecution", `{`); status != 400 || body["__type"] != "SerializationException" {
		t.Fatalf("bad body: %d %v", status, body)
	}
	if status, body := post("AWSStepFunctions.DescribeExecution", `{}`); status != 400 || body["__type"] != "ValidationException" || body["message"] == "" {
		t.Fatalf("missing executionArn: %d %v", status, body)
	}
}

// testSfnexec drives the product's own adapter against the handler.
func testSfnexec(t *testing.T, s *stack) {
	ex := &sfnexec.Executions{Client: s.client, StateMachineARN: s.arn()}
	ctx := context.Background()
	input := []byte(`{"hold": "adapter"}`)
	calls := s.calls.Load()
	id, err := ex.Start(ctx, "adapter", input)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ex.Start(ctx, "adapter", input)
	if err != nil || again != id {
		t.Fatalf("second Start: %s %v, want %s", again, err, id)
	}
	if _, err := ex.Start(ctx, "adapter", []byte(`{"hold": "else"}`)); !errors.Is(err, sfnexec.ErrExecutionAlreadyExists) {
		t.Fatalf("Start with other input: %v, want ErrExecutionAlreadyExists", err)
	}
	s.awaitCalls(t, calls+1)
	if err := ex.Stop(ctx, id, "stopped by the adapter"); err != nil {
		t.Fatal(err)
	}
	desc := s.describe(t, id)
	if desc.Status != types.ExecutionStatusAborted || aws.ToString(desc.Cause) != "stopped by the adapter" {
		t.Fatalf("after Stop: %s %q", desc.Status, aws.ToString(desc.Cause))
	}
	// Closed: Stop is a no-op, Start with the same input is answered
	// ExecutionAlreadyExists, which the adapter resolves to the same ARN by
	// DescribeExecution, and other input is still refused.
	if err := ex.Stop(ctx, id, "again"); err != nil {
		t.Fatalf("Stop of an aborted execution: %v", err)
	}
	if got, err := ex.Start(ctx, "adapter", input); err != nil || got != id {
		t.Fatalf("Start after close: %s %v, want %s", got, err, id)
	}
	if _, err := ex.Start(ctx, "adapter", []byte(`{}`)); !errors.Is(err, sfnexec.ErrExecutionAlreadyExists) {
		t.Fatalf("Start after close with other input: %v", err)
	}
	// An execution that never existed: Stop is not an error for the adapter.
	missing := strings.Replace(s.arn(), ":stateMachine:", ":execution:", 1) + ":ghost"
	if err := ex.Stop(ctx, missing, "x"); err != nil {
		t.Fatalf("Stop of a missing execution: %v", err)
	}
}
