package sfnlocal

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"dirsync/internal/apply"
	"dirsync/internal/domain"
)

// The largest execution input and the largest state output of the
// template's state machine, for 1,000,000 users and 400,000 group changes
// at the smallest batch sizes the template allows (APPLY_BATCH_SIZE 1;
// groups are batched by 10), stay under 256 KiB.
func TestPayloadsStayUnderTheLimitAtEnterpriseScale(t *testing.T) {
	const users, groupChanges, groupBatchSize = 1_000_000, 400_000, 10
	userBatches, groupBatches := users, groupChanges/groupBatchSize
	sy := &domain.Sync{
		ID: strings.Repeat("s", 64), TenantID: strings.Repeat("t", 64),
		UserBatches: userBatches, Batches: userBatches + groupBatches,
	}
	input, err := apply.NewExecutionInput(sy, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var in apply.ExecutionInput
	if err := json.Unmarshal(input, &in); err != nil {
		t.Fatal(err)
	}
	covered := func(chunks [][2]int) (n, widest int) {
		next := -1
		for i, c := range chunks {
			if i > 0 && c[0] != next {
				t.Fatalf("ranges %v do not follow each other", chunks[max(0, i-1):i+1])
			}
			n += c[1] - c[0] + 1
			widest = max(widest, c[1]-c[0]+1)
			next = c[1] + 1
		}
		return n, widest
	}
	nu, wu := covered(in.UserChunks)
	ng, wg := covered(in.GroupChunks)
	if nu != userBatches || ng != groupBatches || in.GroupChunks[0][0] != userBatches {
		t.Fatalf("ranges cover %d user and %d group batches, want %d and %d", nu, ng, userBatches, groupBatches)
	}
	if len(in.UserChunks) > apply.MaxChunks || len(in.GroupChunks) > apply.MaxChunks || max(wu, wg) > apply.MaxChunkBatches {
		t.Fatalf("%d and %d ranges of up to %d batches: States.ArrayRange takes at most 1,000 items", len(in.UserChunks), len(in.GroupChunks), max(wu, wg))
	}

	// What each state sees or collects, at its largest.
	child, _ := json.Marshal(map[string]any{"tenantId": sy.TenantID, "syncId": sy.ID, "batches": rangeOf(sy.Batches-apply.MaxChunkBatches, sy.Batches-1)})
	iteration, _ := json.Marshal(map[string]any{"tenantId": sy.TenantID, "syncId": sy.ID, "batch": sy.Batches - 1})
	collected := func(n int) int { b, _ := json.Marshal(make([]struct{}, n)); return len(b) }
	sizes := map[string]int{
		"execution input (every top-level state's input and output)": len(input),
		"a range's child execution input":                            len(child),
		"one batch's input":                                          len(iteration),
		"what a Map collects from its children":                      collected(apply.MaxChunks),
		"what a range's Map collects from its batches":               collected(apply.MaxChunkBatches),
	}
	for what, n := range sizes {
		t.Logf("%s: %d bytes", what, n)
		if n > MaxPayloadBytes {
			t.Errorf("%s is %d bytes, over the 256 KiB limit", what, n)
		}
	}

	// Those are the largest only if the definition keeps nothing else: every
	// Map discards what it collects (ResultPath null), and every state that
	// ends a Map's iteration outputs {} (OutputPath null).
	var doc map[string]any
	if err := json.Unmarshal(templateDefinition(t), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["TimeoutSeconds"] == nil {
		t.Error("the state machine has no TimeoutSeconds")
	}
	checkMaps(t, doc["States"].(map[string]any), false)
}

// checkMaps checks the states of one level; inMap says they run as a Map's
// iterations.
func checkMaps(t *testing.T, states map[string]any, inMap bool) {
	t.Helper()
	for name, s := range states {
		state := s.(map[string]any)
		if inMap && state["End"] == true {
			if v, ok := state["OutputPath"]; !ok || v != nil {
				t.Errorf("%s ends a Map iteration without OutputPath null: its output is collected", name)
			}
		}
		if state["Type"] != "Map" {
			continue
		}
		if v, ok := state["ResultPath"]; !ok || v != nil {
			t.Errorf("Map %s keeps what it collects (ResultPath %v)", name, v)
		}
		proc := state["ItemProcessor"].(map[string]any)
		checkMaps(t, proc["States"].(map[string]any), true)
	}
}

func rangeOf(from, to int) []int {
	out := make([]int, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// Ranges of several batches run each batch once, one after the other
// within a range.
func TestRangesOfBatchesRunEachBatchOnce(t *testing.T) {
	s := newStack(t, 0, &recorder{})
	res := s.run(t, "ranges", applyInput{TenantID: "acme", SyncID: "r1", UserChunks: [][2]int{{0, 2}, {3, 5}, {6, 6}}, GroupBatches: []int{7}, MaxConcurrency: 10})
	if res.Status != StatusSucceeded {
		t.Fatalf("status = %+v", res)
	}
	calls := s.rec.of("ApplyFunction", false)
	var got []int
	byBatch := map[int]call{}
	for _, c := range calls {
		got = append(got, c.batch())
		byBatch[c.batch()] = c
	}
	sort.Ints(got)
	if !reflect.DeepEqual(got, rangeOf(0, 7)) {
		t.Fatalf("applied batches %v, want each of 0..7 once", got)
	}
	for _, r := range [][2]int{{0, 2}, {3, 5}} {
		for b := r[0]; b < r[1]; b++ {
			if byBatch[b].End > byBatch[b+1].Start {
				t.Errorf("batches %d and %d of one range overlapped", b, b+1)
			}
		}
	}
}
