package sfnlocal

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// dataLimitCause is the cause Step Functions gives States.DataLimitExceeded:
// subject is the state, or for a Task's result its Lambda ARN.
func dataLimitCause(subject string) string {
	return "The state/task '" + subject + "' returned a result with a size exceeding the maximum number of bytes service limit."
}

// pad is a JSON object that encodes to exactly n bytes: {"pad":"xx…"}.
func pad(n int) map[string]string {
	return map[string]string{"pad": strings.Repeat("x", n-len(`{"pad":""}`))}
}

// quotaCase runs a definition whose Task states call Sized, a function
// returning pad(result).
type quotaCase struct {
	name   string
	states map[string]any // the definition starts at "Start"
	input  any
	result int

	wantStatus, wantCause string // wantCause only for FAILED, whose Error must be States.DataLimitExceeded
	wantCalls             int    // of Sized
	wantOutput            string // in a SUCCEEDED output
	wantOutputBytes       int    // of a SUCCEEDED output, when not 0
}

func runQuotaCases(t *testing.T, tests []quotaCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, err := json.Marshal(map[string]any{"StartAt": "Start", "States": tt.states})
			if err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int64
			s := startStack(t, def, time.Millisecond, map[string]Function{
				"Sized": JSONFunction(func(context.Context, any) (map[string]string, error) {
					calls.Add(1)
					return pad(tt.result), nil
				}),
			})
			res := s.run(t, "quota", tt.input)
			if res.Status != tt.wantStatus {
				t.Fatalf("status %s (error %s, cause %.200s, output %.200s), want %s", res.Status, res.Error, res.Cause, res.Output, tt.wantStatus)
			}
			if tt.wantStatus == StatusFailed && (res.Error != ErrorDataLimitExceeded || res.Cause != dataLimitCause(tt.wantCause)) {
				t.Errorf("error %s, cause %q; want %s, %q", res.Error, res.Cause, ErrorDataLimitExceeded, dataLimitCause(tt.wantCause))
			}
			if !strings.Contains(string(res.Output), tt.wantOutput) {
				t.Errorf("output %.300s lacks %s", res.Output, tt.wantOutput)
			}
			if tt.wantOutputBytes != 0 && len(res.Output) != tt.wantOutputBytes {
				t.Errorf("output is %d bytes, want %d", len(res.Output), tt.wantOutputBytes)
			}
			// A call made wrongly after the end (a queued Map item) comes within milliseconds.
			time.Sleep(300 * time.Millisecond)
			if n := calls.Load(); n != int64(tt.wantCalls) {
				t.Errorf("Sized called %d times, want %d", n, tt.wantCalls)
			}
		})
	}
}

// mapInputs are inputs of a Map whose 219 iterations each output
// {"s":s,"i":item}, about 1.2 KB: together, what the Map collects is exactly
// MaxPayloadBytes (atLimit) or one byte more (overLimit).
func mapInputs(t *testing.T) (atLimit, overLimit map[string]any) {
	t.Helper()
	s := strings.Repeat("x", 1182)
	build := func(last int) map[string]any {
		items := make([]int, 219)
		items[len(items)-1] = last
		collected := make([]map[string]any, len(items))
		for i, item := range items {
			collected[i] = map[string]any{"s": s, "i": item}
		}
		b, err := json.Marshal(collected)
		if err != nil {
			t.Fatal(err)
		}
		if want := MaxPayloadBytes + min(last, 1); len(b) != want {
			t.Fatalf("the Map would collect %d bytes, want %d", len(b), want)
		}
		return map[string]any{"s": s, "items": items}
	}
	return build(0), build(10) // 10 is one digit more
}

var (
	sizedTask = map[string]any{"Type": "Task", "Resource": LocalARN("Sized"), "End": true}
	passEnd   = map[string]any{"Type": "Pass", "End": true}
	// halfPayload is a string of which one copy fits in a payload and two do not.
	halfPayload = strings.Repeat("x", MaxPayloadBytes/2+10)
)

// withFields is a copy of state with fields set.
func withFields(state map[string]any, fields map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range state {
		out[k] = v
	}
	for k, v := range fields {
		out[k] = v
	}
	return out
}

// States pass at most MaxPayloadBytes, exactly that many included, wherever
// AWS counts them; one byte more fails the execution with
// States.DataLimitExceeded before anything further runs.
func TestPayloadQuota(t *testing.T) {
	mapAtLimit, mapOverLimit := mapInputs(t)
	twice := map[string]any{"a.$": "$.s", "b.$": "$.s"}
	echoMap := map[string]any{
		"Type": "Map", "ItemsPath": "$.items", "ResultPath": nil, "End": true,
		"ItemSelector":  map[string]any{"s.$": "$.s", "i.$": "$$.Map.Item.Value"},
		"ItemProcessor": map[string]any{"StartAt": "Echo", "States": map[string]any{"Echo": passEnd}},
	}
	branch := func(name string) map[string]any {
		return map[string]any{"StartAt": name, "States": map[string]any{
			name: map[string]any{"Type": "Pass", "Parameters": map[string]any{"v.$": "$.s"}, "End": true},
		}}
	}
	runQuotaCases(t, []quotaCase{
		{
			name:   "execution input at the limit",
			states: map[string]any{"Start": passEnd}, input: pad(MaxPayloadBytes),
			wantStatus: StatusSucceeded, wantOutputBytes: MaxPayloadBytes,
		},
		{
			name:   "task result at the limit",
			states: map[string]any{"Start": sizedTask}, input: map[string]any{}, result: MaxPayloadBytes,
			wantStatus: StatusSucceeded, wantCalls: 1, wantOutputBytes: MaxPayloadBytes,
		},
		{
			name:   "task result over the limit",
			states: map[string]any{"Start": sizedTask}, input: map[string]any{}, result: MaxPayloadBytes + 1,
			wantStatus: StatusFailed, wantCause: LocalARN("Sized"), wantCalls: 1,
		},
		{
			name:   "task input over the limit after Parameters",
			states: map[string]any{"Start": withFields(sizedTask, map[string]any{"Parameters": twice})},
			input:  map[string]any{"s": halfPayload},
			// The function is never called.
			wantStatus: StatusFailed, wantCause: "Start",
		},
		{
			name:   "task output over the limit after ResultSelector",
			states: map[string]any{"Start": withFields(sizedTask, map[string]any{"ResultSelector": map[string]any{"a.$": "$.pad", "b.$": "$.pad"}})},
			input:  map[string]any{}, result: MaxPayloadBytes/2 + 20,
			wantStatus: StatusFailed, wantCause: "Start", wantCalls: 1,
		},
		{
			name:   "pass output at the limit",
			states: map[string]any{"Start": withFields(passEnd, map[string]any{"Result": pad(MaxPayloadBytes)})}, input: map[string]any{},
			wantStatus: StatusSucceeded, wantOutputBytes: MaxPayloadBytes,
		},
		{
			name: "pass output over the limit stops before the next state",
			states: map[string]any{
				"Start": map[string]any{"Type": "Pass", "Result": pad(MaxPayloadBytes + 1), "Next": "Call"},
				"Call":  sizedTask,
			},
			input:      map[string]any{},
			wantStatus: StatusFailed, wantCause: "Start",
		},
		{
			name:   "pass output over the limit after Parameters",
			states: map[string]any{"Start": withFields(passEnd, map[string]any{"Parameters": twice})}, input: map[string]any{"s": halfPayload},
			wantStatus: StatusFailed, wantCause: "Start",
		},
		{
			name:   "map collecting exactly the limit",
			states: map[string]any{"Start": echoMap}, input: mapAtLimit,
			wantStatus: StatusSucceeded, wantOutput: `"items"`,
		},
		{
			name:   "map collecting one byte over the limit from small iterations",
			states: map[string]any{"Start": echoMap}, input: mapOverLimit,
			wantStatus: StatusFailed, wantCause: "Start",
		},
		{
			name: "map fails at the iteration that crosses the limit",
			states: map[string]any{"Start": map[string]any{
				"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": nil, "End": true,
				"ItemProcessor": map[string]any{"StartAt": "Call", "States": map[string]any{"Call": sizedTask}},
			}},
			// 219 results of 1,200 bytes, with commas and brackets, are
			// 263,020 bytes; 218 are 261,819.
			input: map[string]any{"items": make([]int, 300)}, result: 1200,
			wantStatus: StatusFailed, wantCause: "Start", wantCalls: 219,
		},
		{
			name: "map iteration input over the limit after ItemSelector",
			states: map[string]any{"Start": map[string]any{
				"Type": "Map", "ItemsPath": "$.items", "ItemSelector": twice, "End": true,
				"ItemProcessor": map[string]any{"StartAt": "Call", "States": map[string]any{"Call": sizedTask}},
			}},
			input:      map[string]any{"s": halfPayload, "items": []int{0}},
			wantStatus: StatusFailed, wantCause: "Start",
		},
		{
			name: "state output over the limit in a map iteration",
			states: map[string]any{"Start": map[string]any{
				"Type": "Map", "ItemsPath": "$.items", "ItemSelector": map[string]any{"s.$": "$.s"}, "End": true,
				"ItemProcessor": map[string]any{"StartAt": "Inner", "States": map[string]any{
					"Inner": withFields(passEnd, map[string]any{"Parameters": twice}),
				}},
			}},
			input:      map[string]any{"s": halfPayload, "items": []int{0}},
			wantStatus: StatusFailed, wantCause: "Inner",
		},
		{
			name: "parallel branches collecting over the limit",
			states: map[string]any{"Start": map[string]any{
				"Type": "Parallel", "ResultPath": nil, "End": true,
				"Branches": []any{branch("Left"), branch("Right")},
			}},
			input:      map[string]any{"s": halfPayload},
			wantStatus: StatusFailed, wantCause: "Start",
		},
	})
}

// AWS: States.DataLimitExceeded is "a terminal error that can't be passEnd by
// the States.ALL error type"; a rule naming it matches. A state's own output
// is past its Retry and Catch.
func TestDataLimitExceededRetryAndCatch(t *testing.T) {
	all := []any{"States.ALL"}
	named := []any{ErrorDataLimitExceeded}
	retry := func(errors []any) []any {
		return []any{map[string]any{"ErrorEquals": errors, "MaxAttempts": 1, "IntervalSeconds": 1}}
	}
	catch := func(errors []any) []any {
		return []any{map[string]any{"ErrorEquals": errors, "ResultPath": "$.error", "Next": "Caught"}}
	}
	overInIteration := map[string]any{
		"Type": "Map", "ItemsPath": "$.items", "ItemSelector": map[string]any{"s.$": "$.s"}, "ResultPath": nil, "End": true,
		"ItemProcessor": map[string]any{"StartAt": "Inner", "States": map[string]any{
			"Inner": withFields(passEnd, map[string]any{"Parameters": map[string]any{"a.$": "$.s", "b.$": "$.s"}}),
		}},
	}
	// What a catcher with ResultPath $.error puts in the output.
	caughtError := func(subject string) string {
		return `"error":{"Error":"States.DataLimitExceeded","Cause":"` + dataLimitCause(subject) + `"}`
	}
	runQuotaCases(t, []quotaCase{
		{
			name: "task result: States.ALL neither retries nor catches",
			states: map[string]any{
				"Start":  withFields(sizedTask, map[string]any{"Retry": retry(all), "Catch": catch(all)}),
				"Caught": passEnd,
			},
			input: map[string]any{}, result: MaxPayloadBytes + 1,
			wantStatus: StatusFailed, wantCause: LocalARN("Sized"), wantCalls: 1,
		},
		{
			name: "task result: States.TaskFailed neither retries nor catches",
			states: map[string]any{
				"Start":  withFields(sizedTask, map[string]any{"Retry": retry([]any{"States.TaskFailed"}), "Catch": catch([]any{"States.TaskFailed"})}),
				"Caught": passEnd,
			},
			input: map[string]any{}, result: MaxPayloadBytes + 1,
			wantStatus: StatusFailed, wantCause: LocalARN("Sized"), wantCalls: 1,
		},
		{
			name: "task result: rules naming the error retry and catch it",
			states: map[string]any{
				"Start":  withFields(sizedTask, map[string]any{"Retry": retry(named), "Catch": catch(named)}),
				"Caught": passEnd,
			},
			input: map[string]any{}, result: MaxPayloadBytes + 1,
			wantStatus: StatusSucceeded, wantCalls: 2, wantOutput: caughtError(LocalARN("Sized")),
		},
		{
			name: "task output: even a catcher naming it on the state does not catch",
			states: map[string]any{
				"Start": withFields(sizedTask, map[string]any{
					"ResultSelector": map[string]any{"a.$": "$.pad", "b.$": "$.pad"},
					"Catch":          append(catch(named), catch(all)...),
				}),
				"Caught": passEnd,
			},
			input: map[string]any{}, result: MaxPayloadBytes/2 + 20,
			wantStatus: StatusFailed, wantCause: "Start", wantCalls: 1,
		},
		{
			name: "map collecting over the limit: States.ALL on the map does not catch",
			states: map[string]any{
				"Start": map[string]any{
					"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": nil, "End": true,
					"ItemProcessor": map[string]any{"StartAt": "Call", "States": map[string]any{"Call": sizedTask}},
					"Catch":         catch(all),
				},
				"Caught": passEnd,
			},
			input: map[string]any{"items": make([]int, 300)}, result: 1200,
			wantStatus: StatusFailed, wantCause: "Start", wantCalls: 219,
		},
		{
			name: "map collecting over the limit: a catcher naming it on the map catches",
			states: map[string]any{
				"Start": map[string]any{
					"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": nil, "End": true,
					"ItemProcessor": map[string]any{"StartAt": "Call", "States": map[string]any{"Call": sizedTask}},
					"Catch":         catch(named),
				},
				"Caught": passEnd,
			},
			input: map[string]any{"items": make([]int, 300)}, result: 1200,
			wantStatus: StatusSucceeded, wantCalls: 219, wantOutput: caughtError("Start"),
		},
		{
			name: "state output in an iteration: States.ALL on the map does not catch",
			states: map[string]any{
				"Start":  withFields(overInIteration, map[string]any{"Retry": retry(all), "Catch": catch(all)}),
				"Caught": passEnd,
			},
			input:      map[string]any{"s": halfPayload, "items": []int{0}},
			wantStatus: StatusFailed, wantCause: "Inner",
		},
		{
			name: "state output in an iteration: a catcher naming it on the map catches",
			states: map[string]any{
				"Start":  withFields(overInIteration, map[string]any{"Catch": append(catch([]any{"States.TaskFailed"}), catch(named)...)}),
				"Caught": passEnd,
			},
			input:      map[string]any{"s": halfPayload, "items": []int{0}},
			wantStatus: StatusSucceeded, wantOutput: caughtError("Inner"),
		},
	})
}
