package iamlocal

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func (a *Authorizer) arn(service, resource string) string {
	return "arn:aws:" + service + ":" + a.region + ":" + a.principals.accountID + ":" + resource
}

// target reads the operation of an AWS JSON protocol request
// (X-Amz-Target: <prefix>.<Operation>).
func target(r *http.Request, prefix string) (string, error) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), prefix+".")
	if !ok || op == "" {
		return "", fmt.Errorf("%w: X-Amz-Target %q is not a %s operation", ErrNotModelled, r.Header.Get("X-Amz-Target"), prefix)
	}
	return op, nil
}

// DynamoDB guards the DynamoDB API (AWS JSON 1.0, X-Amz-Target
// DynamoDB_20120810.<Operation>) in front of next, e.g. a Proxy to
// DynamoDB Local. Each operation needs dynamodb:<Operation> on the table's
// ARN (arn:aws:dynamodb:<region>:<account>:table/<name>), on the index's
// (<table ARN>/index/<name>) for a Query or Scan of one, on "*" for one
// naming no table; BatchGetItem and BatchWriteItem need their action on
// each table of RequestItems; TransactWriteItems needs dynamodb:PutItem,
// UpdateItem, DeleteItem or ConditionCheckItem for each item on its table,
// and TransactGetItems dynamodb:GetItem, as AWS authorizes transactions
// (DynamoDB Developer Guide, "Using IAM with DynamoDB transactions").
// PartiQL operations are not modelled. Refusals are HTTP 400
// com.amazon.coral.service#AccessDeniedException.
func (a *Authorizer) DynamoDB(next http.Handler) http.Handler {
	return a.guard(service{
		name: "dynamodb", signingName: "dynamodb", checks: a.dynamoChecks,
		writeError: jsonError("application/x-amz-json-1.0"), authStatus: 400, deniedStatus: 400, coral: true,
	}, next)
}

type dynamoInput struct {
	TableName     string
	IndexName     string
	ResourceArn   string
	RequestItems  map[string]json.RawMessage
	TransactItems []map[string]struct {
		TableName string
	}
}

func (a *Authorizer) dynamoChecks(r *http.Request, body []byte) ([]check, error) {
	op, err := target(r, "DynamoDB_20120810")
	if err != nil {
		return nil, err
	}
	switch op {
	case "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction":
		return nil, fmt.Errorf("%w: PartiQL operation %s (dynamodb:PartiQL* on the tables its statements name)", ErrNotModelled, op)
	}
	var in dynamoInput
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("%w: %s body: %v", ErrNotModelled, op, err)
		}
	}
	table := func(name string) string {
		if strings.HasPrefix(name, "arn:") { // TableName may be the table's ARN
			return name
		}
		return a.arn("dynamodb", "table/"+name)
	}
	switch op {
	case "BatchGetItem", "BatchWriteItem":
		names := make([]string, 0, len(in.RequestItems))
		for name := range in.RequestItems {
			names = append(names, name)
		}
		sort.Strings(names)
		var out []check
		for _, name := range names {
			out = append(out, check{"dynamodb:" + op, table(name)})
		}
		return out, nil
	case "TransactWriteItems", "TransactGetItems":
		actions := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
		var out []check
		for i, item := range in.TransactItems {
			if len(item) != 1 {
				return nil, fmt.Errorf("%w: %s item %d has %d actions", ErrNotModelled, op, i, len(item))
			}
			for kind, v := range item {
				action, ok := actions[kind]
				if !ok || (op == "TransactGetItems") != (kind == "Get") {
					return nil, fmt.Errorf("%w: %s item %d: %s", ErrNotModelled, op, i, kind)
				}
				out = append(out, check{"dynamodb:" + action, table(v.TableName)})
			}
		}
		return out, nil
	}
	switch {
	case in.TableName != "" && in.IndexName != "" && (op == "Query" || op == "Scan"):
		return []check{{"dynamodb:" + op, table(in.TableName) + "/index/" + in.IndexName}}, nil
	case in.TableName != "":
		return []check{{"dynamodb:" + op, table(in.TableName)}}, nil
	case in.ResourceArn != "":
		return []check{{"dynamodb:" + op, in.ResourceArn}}, nil
	}
	return []check{{"dynamodb:" + op, "*"}}, nil
}

// StepFunctions guards the Step Functions API (AWS JSON 1.0, X-Amz-Target
// AWSStepFunctions.<Operation>) in front of next, e.g. an sfnapi.Handler.
// Each operation needs states:<Operation> on the ARN it names: the state
// machine's for StartExecution and ListExecutions, the execution's for
// DescribeExecution and StopExecution, "*" for one naming none. Refusals
// are HTTP 400 AccessDeniedException. Wrap the handler where it is mounted,
// before any path rewriting: the signature covers the path.
func (a *Authorizer) StepFunctions(next http.Handler) http.Handler {
	return a.guard(service{
		name: "states", signingName: "states", checks: a.sfnChecks,
		writeError: jsonError("application/x-amz-json-1.0"), authStatus: 400, deniedStatus: 400, coral: true,
	}, next)
}

func (a *Authorizer) sfnChecks(r *http.Request, body []byte) ([]check, error) {
	op, err := target(r, "AWSStepFunctions")
	if err != nil {
		return nil, err
	}
	var in map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("%w: %s body: %v", ErrNotModelled, op, err)
		}
	}
	for _, k := range []string{"stateMachineArn", "executionArn", "mapRunArn", "activityArn", "resourceArn"} {
		if v, ok := in[k].(string); ok && v != "" {
			return []check{{"states:" + op, v}}, nil
		}
	}
	return []check{{"states:" + op, "*"}}, nil
}

// SecretsManager guards the Secrets Manager API (AWS JSON 1.1, X-Amz-Target
// secretsmanager.<Operation>) in front of next, a Proxy to moto. Each
// operation needs secretsmanager:<Operation> on the secret's ARN: SecretId
// when it is an ARN, else arn:aws:secretsmanager:<region>:<account>:secret:<name>-??????
// (CreateSecret: Name), whose six-character random suffix only a wildcard
// matches; "*" for one naming no secret. Refusals are HTTP 400
// AccessDeniedException.
func (a *Authorizer) SecretsManager(next http.Handler) http.Handler {
	return a.guard(service{
		name: "secretsmanager", signingName: "secretsmanager", checks: a.secretsChecks,
		writeError: jsonError("application/x-amz-json-1.1"), authStatus: 400, deniedStatus: 400, coral: true,
	}, next)
}

func (a *Authorizer) secretsChecks(r *http.Request, body []byte) ([]check, error) {
	op, err := target(r, "secretsmanager")
	if err != nil {
		return nil, err
	}
	if op == "BatchGetSecretValue" {
		return nil, fmt.Errorf("%w: %s (secretsmanager:GetSecretValue on each secret)", ErrNotModelled, op)
	}
	var in struct{ SecretId, Name string }
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("%w: %s body: %v", ErrNotModelled, op, err)
		}
	}
	id := in.SecretId
	if op == "CreateSecret" {
		id = in.Name
	}
	switch {
	case id == "":
		return []check{{"secretsmanager:" + op, "*"}}, nil
	case strings.HasPrefix(id, "arn:"):
		return []check{{"secretsmanager:" + op, id}}, nil
	}
	return []check{{"secretsmanager:" + op, a.arn("secretsmanager", "secret:"+id+"-"+strings.Repeat(string(rune(Unknown)), 6))}}, nil
}

// FunctionARN resolves the FunctionName of a Lambda Invoke request (a name
// or an ARN, without qualifier) to the function's unqualified ARN; ok
// false falls back to arn:aws:lambda:<region>:<account>:function:<name>,
// which is the ARN of a local function named by its logical id
// (sfnlocal.LocalARN).
type FunctionARN func(nameOrARN string) (arn string, ok bool)

// Lambda guards the Lambda Invoke API (POST
// /2015-03-31/functions/{FunctionName}/invocations, REST JSON) in front of
// next, e.g. a lambdalocal.Service: each invocation needs
// lambda:InvokeFunction on the function's ARN, qualified when the request
// names a version or alias. Other Lambda requests are not modelled.
// Refusals are HTTP 403 with X-Amzn-ErrorType AccessDeniedException.
func (a *Authorizer) Lambda(next http.Handler, resolve FunctionARN) http.Handler {
	return a.guard(service{
		name: "lambda", signingName: "lambda",
		checks:     func(r *http.Request, _ []byte) ([]check, error) { return a.lambdaChecks(r, resolve) },
		writeError: lambdaError, authStatus: 403, deniedStatus: 403,
	}, next)
}

func (a *Authorizer) lambdaChecks(r *http.Request, resolve FunctionARN) ([]check, error) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
	name, invoke := strings.CutSuffix(rest, "/invocations")
	if !ok || !invoke || r.Method != http.MethodPost || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%w: %s %s (only Invoke is)", ErrNotModelled, r.Method, r.URL.Path)
	}
	// name, name:qualifier, account:function:name[:qualifier] or the ARN.
	qualifier := r.URL.Query().Get("Qualifier")
	base := name
	if strings.HasPrefix(name, "arn:") {
		parts := strings.Split(name, ":")
		if len(parts) < 7 || parts[5] != "function" {
			return nil, fmt.Errorf("%w: function %q", ErrNotModelled, name)
		}
		base = strings.Join(parts[:7], ":")
		if len(parts) == 8 && qualifier == "" {
			qualifier = parts[7]
		}
	} else if parts := strings.Split(name, ":"); len(parts) == 2 {
		base, qualifier = parts[0], parts[1]
	} else if len(parts) >= 3 && parts[1] == "function" {
		base = parts[2]
		if len(parts) == 4 && qualifier == "" {
			qualifier = parts[3]
		}
	}
	arn := ""
	if resolve != nil {
		arn, ok = resolve(base)
	}
	if resolve == nil || !ok {
		arn = base
		if !strings.HasPrefix(base, "arn:") {
			arn = a.arn("lambda", "function:"+base)
		}
	}
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return []check{{"lambda:InvokeFunction", arn}}, nil
}

// lambdaError answers in Lambda's REST JSON form: the type in the
// X-Amzn-ErrorType header; an AccessDeniedException's body as Lambda
// writes it ({"Type":"User","Message":...}), others {"message":...}.
func lambdaError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	if code == "AccessDeniedException" {
		_ = writeJSON(w, map[string]string{"Type": "User", "Message": message})
		return
	}
	_ = writeJSON(w, map[string]string{"message": message})
}

// EventBridge guards the EventBridge API (AWS JSON 1.1, X-Amz-Target
// AWSEvents.<Operation>) in front of next, e.g. an eventslocal bus's
// handler. PutEvents needs events:PutEvents on the bus of each entry
// (EventBusName, a name or an ARN; the default bus when empty:
// arn:aws:events:<region>:<account>:event-bus/default); other operations
// are not modelled. Refusals are HTTP 400 AccessDeniedException.
func (a *Authorizer) EventBridge(next http.Handler) http.Handler {
	return a.guard(service{
		name: "events", signingName: "events", checks: a.eventsChecks,
		writeError: jsonError("application/x-amz-json-1.1"), authStatus: 400, deniedStatus: 400,
	}, next)
}

func (a *Authorizer) eventsChecks(r *http.Request, body []byte) ([]check, error) {
	op, err := target(r, "AWSEvents")
	if err != nil {
		return nil, err
	}
	if op != "PutEvents" {
		return nil, fmt.Errorf("%w: EventBridge %s (only PutEvents is)", ErrNotModelled, op)
	}
	var in struct {
		Entries []struct{ EventBusName string }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrNotModelled, op, err)
	}
	seen := map[string]bool{}
	var out []check
	for _, e := range in.Entries {
		bus := e.EventBusName
		switch {
		case bus == "":
			bus = a.arn("events", "event-bus/default")
		case !strings.HasPrefix(bus, "arn:"):
			bus = a.arn("events", "event-bus/"+bus)
		}
		if !seen[bus] {
			seen[bus] = true
			out = append(out, check{"events:PutEvents", bus})
		}
	}
	if len(out) == 0 {
		out = []check{{"events:PutEvents", a.arn("events", "event-bus/default")}}
	}
	return out, nil
}
