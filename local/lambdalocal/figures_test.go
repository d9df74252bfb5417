package lambdalocal_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"dirsync/local/lambdalocal"
)

// TestColdAndWarmFigures reports what an instance costs: the emulator's
// start (exec to listening), a cold invocation (the bootstrap's start and
// init included) and a warm one.
func TestColdAndWarmFigures(t *testing.T) {
	const n = 5
	var ready, cold, warm []time.Duration
	for range n {
		svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{echo(t, "Echo")}})
		first := invoke(t, svc, "Echo", `{}`)
		if !first.ColdStart {
			t.Fatal("the first invocation is not a cold start")
		}
		ready = append(ready, svc.Instances()[0].Ready)
		cold = append(cold, first.Duration)
		for range 20 {
			res := invoke(t, svc, "Echo", `{}`)
			if res.ColdStart {
				t.Fatal("a warm invocation is a cold start")
			}
			warm = append(warm, res.Duration)
		}
		if err := svc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("emulator start (exec to listening): median %s, max %s", median(ready), slices.Max(ready).Round(10*time.Microsecond))
	t.Logf("cold invocation (bootstrap start + init + invoke): median %s, max %s", median(cold), slices.Max(cold).Round(10*time.Microsecond))
	t.Logf("warm invocation through the emulator: median %s, max %s", median(warm), slices.Max(warm).Round(10*time.Microsecond))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(10 * time.Microsecond)
}

// BenchmarkWarmInvoke is one warm invocation through Service.Invoke.
func BenchmarkWarmInvoke(b *testing.B) {
	svc := benchService(b)
	ctx := context.Background()
	if _, err := svc.Invoke(ctx, "Echo", []byte(`{}`)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Invoke(ctx, "Echo", []byte(`{"data":"x"}`)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWarmInvokeSDK is one warm invocation as the AWS SDK makes it,
// through the HTTP Invoke API.
func BenchmarkWarmInvokeSDK(b *testing.B) {
	svc := benchService(b)
	url, err := svc.Start(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	c := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: aws.AnonymousCredentials{}})
	ctx := context.Background()
	in := &lambda.InvokeInput{FunctionName: aws.String("Echo"), Payload: []byte(`{"data":"x"}`)}
	if _, err := c.Invoke(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Invoke(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func benchService(b *testing.B) *lambdalocal.Service {
	b.Helper()
	setup(b)
	svc, err := lambdalocal.New(context.Background(), lambdalocal.Config{
		Emulator: emulator, Root: repoRoot, Functions: []lambdalocal.Function{echo(b, "Echo")},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	return svc
}
