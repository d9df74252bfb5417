// Package previewbench measures the preview end to end and the raw floor
// beside it, as DESIGN.md section 6 asks.
//
// The benchmarks (in this package's tests) time the whole preview worker
// (Service.Start and Service.Run: Graph read through msgraph-sdk-go against
// the fake Entra ID, directory load, plan, plan write into DynamoDB Local)
// and, in the same run, the floor of the same work: the same Graph requests
// sent with plain net/http and encoding/json (local/graphfloor, which the
// reader's own benchmark stands beside too), and the same number and size
// of items written with plain BatchWriteItem.
//
// The package itself holds the parts those benchmarks are made of, so other
// end-to-end benchmarks can measure against the same floor: an existing
// platform directory for a generated tenant, the raw write,
// a DynamoDB client that counts what BatchWriteItem wrote, and a heap
// sampler.
package previewbench
