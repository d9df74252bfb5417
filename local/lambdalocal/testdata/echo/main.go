// Command echo is the test function of package lambdalocal: a real Lambda
// bootstrap (aws-lambda-go) whose event says what to do.
//
// With ECHO_LOG set, every invocation first appends a line to that file:
// {"unixNano":..., "pid":..., "requestId":..., "event":<the raw event>},
// so a test sees each attempt, whichever process ran it.
package main

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Event is what a test asks of the function.
type Event struct {
	SleepMs int      `json:"sleepMs,omitempty"` // sleep before answering
	AllocMB int      `json:"allocMB,omitempty"` // first allocate and touch this much memory, held until the answer
	Error   string   `json:"error,omitempty"`   // return an EchoError with this message
	Panic   string   `json:"panic,omitempty"`   // panic with this message
	Exit    *int     `json:"exit,omitempty"`    // exit the process with this code
	Env     []string `json:"env,omitempty"`     // report these environment variables
	Environ bool     `json:"environ,omitempty"` // report the whole environment
}

// Result is what the function answers.
type Result struct {
	Event        json.RawMessage   `json:"event"`
	Env          map[string]string `json:"env,omitempty"`
	Environ      []string          `json:"environ,omitempty"`
	PID          int               `json:"pid"`
	RequestID    string            `json:"requestId"`
	FunctionName string            `json:"functionName"`
	MemoryMB     int               `json:"memoryMB"`
	DeadlineMs   int64             `json:"deadlineMs"`
	StartNs      int64             `json:"startNs"`
	EndNs        int64             `json:"endNs"`
}

// EchoError is the typed error the function returns when asked: its
// errorType is "EchoError".
type EchoError struct{ Msg string }

func (e *EchoError) Error() string { return e.Msg }

type logLine struct {
	UnixNano  int64           `json:"unixNano"`
	PID       int             `json:"pid"`
	RequestID string          `json:"requestId"`
	Event     json.RawMessage `json:"event"`
}

func handle(ctx context.Context, raw json.RawMessage) (*Result, error) {
	start := time.Now()
	var requestID string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID = lc.AwsRequestID
	}
	if path := os.Getenv("ECHO_LOG"); path != "" {
		line, err := json.Marshal(logLine{UnixNano: start.UnixNano(), PID: os.Getpid(), RequestID: requestID, Event: raw})
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = f.Write(append(line, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	var held []byte
	if ev.AllocMB > 0 {
		held = make([]byte, ev.AllocMB<<20)
		for i := 0; i < len(held); i += 4096 { // resident, not just reserved
			held[i] = 1
		}
	}
	if ev.SleepMs > 0 {
		time.Sleep(time.Duration(ev.SleepMs) * time.Millisecond)
	}
	runtime.KeepAlive(held)
	if ev.Exit != nil {
		os.Exit(*ev.Exit)
	}
	if ev.Panic != "" {
		panic(ev.Panic)
	}
	if ev.Error != "" {
		return nil, &EchoError{Msg: ev.Error}
	}
	res := &Result{
		Event:        raw,
		PID:          os.Getpid(),
		RequestID:    requestID,
		FunctionName: lambdacontext.FunctionName,
		MemoryMB:     lambdacontext.MemoryLimitInMB,
		StartNs:      start.UnixNano(),
		EndNs:        time.Now().UnixNano(),
	}
	if d, ok := ctx.Deadline(); ok {
		res.DeadlineMs = time.Until(d).Milliseconds()
	}
	if len(ev.Env) > 0 {
		res.Env = map[string]string{}
		for _, k := range ev.Env {
			if v, ok := os.LookupEnv(k); ok {
				res.Env[k] = v
			}
		}
	}
	if ev.Environ {
		res.Environ = os.Environ()
	}
	return res, nil
}

func main() { lambda.Start(handle) }
