package apply

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
	"dirsync/internal/store"
	"dirsync/local/dynamolocal/dynamotest"
)

// benchConcurrency is how many batches run at once, as the Map's
// MaxConcurrency does by default.
const benchConcurrency = 10

// benchPlan stores a ready preview adding n users (with a realistic set of
// attributes) and a few groups, and returns the service and the sync.
func benchPlan(b *testing.B, n int) (*Service, *store.Store, *domain.Sync) {
	b.Helper()
	ctx := context.Background()
	names := dynamotest.Tables(b)
	st := store.New(dynamotest.Client, names["DirectoryTable"], names["SyncTable"])
	props := []string{"displayName", "givenName", "surname", "jobTitle", "department", "officeLocation", "mobilePhone", "employeeId", "companyName", "country"}
	snap := &domain.Snapshot{DirectoryTenantID: dir, UserProperties: props}
	groups := make([]domain.SourceGroup, 20)
	for g := range groups {
		groups[g] = domain.SourceGroup{ID: fmt.Sprintf("g-%02d", g), DisplayName: fmt.Sprintf("Department %02d", g)}
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("x-%07d", i)
		snap.Users = append(snap.Users, domain.SourceUser{
			ID: id, Mail: fmt.Sprintf("user%07d@example.com", i), UserPrincipalName: fmt.Sprintf("user%07d@example.com", i), AccountEnabled: true,
			Values: []string{fmt.Sprintf("User Number %d", i), "User", fmt.Sprintf("Number%d", i), "Software Engineer", "Research & Development",
				"Building 4", "+1 425 555 0100", fmt.Sprint(100000 + i), "Contoso", "United States"},
		})
		groups[i%len(groups)].MemberIDs = append(groups[i%len(groups)].MemberIDs, id)
	}
	for g := range groups {
		sort.Strings(groups[g].MemberIDs)
	}
	snap.Groups = groups
	mapping := make([]domain.Mapping, len(props))
	for i, p := range props {
		mapping[i] = domain.Mapping{Attribute: p, Source: p}
	}
	opts := domain.Options{Mapping: mapping}
	p, err := plan.Compute(domain.PlanInput{Snapshot: snap, Directory: &domain.Directory{}, Options: opts})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	sy := &domain.Sync{ID: domain.NewID(now), TenantID: tenant, DirectoryTenantID: dir, Status: domain.SyncPreviewing, CreatedAt: now, UpdatedAt: now, Options: opts}
	if err := st.CreateSync(ctx, sy, time.Hour); err != nil {
		b.Fatal(err)
	}
	if err := st.SavePlan(ctx, domain.Lease{Tenant: tenant, SyncID: sy.ID}, p, domain.PlanWrite{Batches: domain.CutBatches(p.Changes, domain.BatchSizes{Users: 100}), ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	svc := &Service{Store: st, Executions: &fakeExecutions{}, MaxConcurrency: benchConcurrency, CancelDrain: time.Minute, Concurrency: 8, Logger: slog.New(slog.DiscardHandler)}
	if sy, err = svc.Confirm(ctx, admin, sy.ID, false); err != nil {
		b.Fatal(err)
	}
	return svc, st, sy
}

// inParallel calls fn for from, from+step, ... below to, benchConcurrency
// calls at a time, as the Map runs its batches.
func inParallel(from, to, step int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < benchConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := from; i < to; i += step {
		next <- i
	}
	close(next)
	wg.Wait()
}

// runBatches plays the Map: the user batches benchConcurrency at a time,
// then the group batches, then finalize.
func runBatches(b *testing.B, svc *Service, sy *domain.Sync) {
	ctx := context.Background()
	run := func(from, to int) {
		inParallel(from, to, 1, func(i int) {
			if _, err := svc.ApplyBatch(ctx, BatchEvent{TenantID: sy.TenantID, SyncID: sy.ID, Batch: i}); err != nil {
				b.Error(err)
			}
		})
	}
	t0 := time.Now()
	run(0, sy.UserBatches)
	b.ReportMetric(time.Since(t0).Seconds(), "users-s")
	t1 := time.Now()
	run(sy.UserBatches, sy.Batches)
	b.ReportMetric(time.Since(t1).Seconds(), "groups-s")
	if _, err := svc.Finalize(ctx, FinalizeEvent{TenantID: sy.TenantID, SyncID: sy.ID}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApply applies a plan adding n users (and 20 groups holding
// them) into DynamoDB Local.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%dk", n/1000), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				svc, st, sy := benchPlan(b, n)
				b.StartTimer()
				start := time.Now()
				runBatches(b, svc, sy)
				elapsed := time.Since(start)
				b.StopTimer()
				p, err := st.GetProgress(context.Background(), sy.TenantID, sy.ID)
				if err != nil || p.Status != domain.SyncCompleted || p.Succeeded != p.Total {
					b.Fatalf("apply ended %+v, %v", p, err)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "users/s")
			}
		})
	}
}

// BenchmarkApplyFloor is the raw floor beside it: BatchWriteItem of n user
// items of the same size, 25 per request, benchConcurrency requests at
// once, into the same DynamoDB Local.
func BenchmarkApplyFloor(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%dk", n/1000), func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				table := dynamotest.Tables(b)["DirectoryTable"]
				b.StartTimer()
				start := time.Now()
				inParallel(0, n, 25, func(from int) {
					reqs := make([]types.WriteRequest, 0, 25)
					for j := from; j < min(from+25, n); j++ {
						reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: floorItem(j)}})
					}
					pending := map[string][]types.WriteRequest{table: reqs}
					for len(pending[table]) > 0 {
						out, err := dynamotest.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
						if err != nil {
							b.Error(err)
							return
						}
						pending = out.UnprocessedItems
					}
				})
				elapsed := time.Since(start)
				b.ReportMetric(float64(n)/elapsed.Seconds(), "users/s")
			}
		})
	}
}

// floorItem is a user item of the size apply writes.
func floorItem(i int) map[string]types.AttributeValue {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	attrs := map[string]types.AttributeValue{
		"displayName": s(fmt.Sprintf("User Number %d", i)), "givenName": s("User"), "surname": s(fmt.Sprintf("Number%d", i)),
		"jobTitle": s("Software Engineer"), "department": s("Research & Development"), "officeLocation": s("Building 4"),
		"mobilePhone": s("+1 425 555 0100"), "employeeId": s(fmt.Sprint(100000 + i)), "companyName": s("Contoso"), "country": s("United States"),
	}
	return map[string]types.AttributeValue{
		"pk": s("T#" + tenant), "sk": s(fmt.Sprintf("U#floor%07d", i)), "email": s(fmt.Sprintf("user%07d@example.com", i)),
		"st": s("active"), "src": s("entra"), "xid": s(fmt.Sprintf("x-%07d", i)), "xtid": s(dir),
		"rev": &types.AttributeValueMemberN{Value: "1"}, "cat": s(time.Now().UTC().Format(time.RFC3339Nano)),
		"uat": s(time.Now().UTC().Format(time.RFC3339Nano)), "q": s(fmt.Sprintf("user%07d@example.com user number %d", i, i)),
		"a": &types.AttributeValueMemberM{Value: attrs}, "g": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		"ls": s("sync#1"),
	}
}

// BenchmarkApplyTransactionFloor is the floor of what apply must do for an
// add: the user item and its two uniqueness claims written atomically, here
// as raw TransactWriteItems of 25 users (75 items), benchConcurrency at once,
// into the same DynamoDB Local. It shows how much of apply's time is the
// cost of atomic writes in DynamoDB Local, which runs transactions one at a
// time.
func BenchmarkApplyTransactionFloor(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%dk", n/1000), func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				table := dynamotest.Tables(b)["DirectoryTable"]
				s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
				b.StartTimer()
				start := time.Now()
				inParallel(0, n, 25, func(from int) {
					var txn []types.TransactWriteItem
					for j := from; j < min(from+25, n); j++ {
						for _, it := range []map[string]types.AttributeValue{
							floorItem(j),
							{"pk": s("T#" + tenant), "sk": s(fmt.Sprintf("E#user%07d@example.com", j)), "uid": s(fmt.Sprint(j))},
							{"pk": s("T#" + tenant), "sk": s(fmt.Sprintf("X#%s#x-%07d", dir, j)), "uid": s(fmt.Sprint(j))},
						} {
							txn = append(txn, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)")}})
						}
					}
					if _, err := dynamotest.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: txn}); err != nil {
						b.Error(err)
					}
				})
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "users/s")
			}
		})
	}
}
