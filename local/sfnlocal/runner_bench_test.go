package sfnlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"dirsync/local/dynamolocal"
)

// BenchmarkRunnerBatches measures what the local state machine adds per
// apply batch: the real template with no-op functions, 1000 user batches
// and 10 group batches per execution (a 100k-user apply at the default
// batch size), MaxConcurrency 10.
func BenchmarkRunnerBatches(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	def, err := DefinitionFromTemplate(filepath.Join(root, "template.yaml"), "ApplyStateMachine")
	if err != nil {
		b.Fatal(err)
	}
	server := NewInvokeServer(nil)
	noop := func(context.Context, []byte) ([]byte, error) { return []byte(`{"ok":true}`), nil }
	server.Register(LocalARN("ApplyFunction"), noop)
	server.Register(LocalARN("FinalizeFunction"), noop)
	url, err := server.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	runner, err := NewRunner(ctx, RunnerConfig{Root: root, Definition: def, InvokeURL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer runner.Close()

	const userBatches, groupBatches = 1000, 10
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		input, _ := json.Marshal(applyInput{TenantID: "bench", SyncID: fmt.Sprint(i),
			UserBatches: batches(0, userBatches), GroupBatches: batches(userBatches, userBatches+groupBatches), MaxConcurrency: 10})
		id, err := runner.Start(ctx, fmt.Sprintf("bench-%d", i), input)
		if err != nil {
			b.Fatal(err)
		}
		res, err := runner.Wait(ctx, id)
		if err != nil || res.Status != StatusSucceeded {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*(userBatches+groupBatches))/b.Elapsed().Seconds(), "batches/s")
}
