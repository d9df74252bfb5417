// Package awscalls derives, from the code of each Lambda main package, the
// AWS API calls it can make and the resources they name, so that a test can
// hold template.yaml's IAM roles to the code instead of to a hand-written
// list.
//
// How it derives them:
//
//   - The module's packages are type-checked from source and turned into
//     SSA; every other package (the AWS SDK, the standard library, Graph) is
//     known from its export data only, so its functions have no bodies.
//   - Reachability starts at main and init. Code outside the module is a
//     black box that may call back whatever the module hands it: a function
//     value, closure or method value passed to it, and the methods of the
//     interface a module value is converted to when passed to it
//     (http.ServeMux.HandleFunc, lambda.Start, errgroup.Go, sort.Slice...).
//   - An API function receives only the routes template.yaml gives it, but
//     its code links the whole routing table (httpapi's table declares
//     every row with a constant pattern, and serves the rows of the
//     function it is built for). Given a function's routes, a call passing
//     a route pattern ("GET /v1/syncs") that is not one of them is dead in
//     that function and is left out of its analysis; Function.AllRoutes
//     says what the function could do if every row were reachable.
//   - Calls are resolved by VTA (variable type analysis) over the functions
//     CHA finds reachable, refined twice, so an interface call resolves to
//     the types that can actually flow into that variable or field of this
//     program: a Lambda whose httpapi.Deps sets only Directory never
//     reaches the sync store through Deps.Syncs, although its handler
//     links every route.
//   - An AWS call is a reachable call of a method of *Client of a package
//     github.com/aws/aws-sdk-go-v2/service/<svc>; its IAM action is the
//     service's prefix and the operation's name (Lambda's Invoke is
//     lambda:InvokeFunction; TransactWriteItems needs the action of each
//     item it may carry: PutItem, UpdateItem, DeleteItem,
//     ConditionCheckItem).
//   - The resource is found where reachable code builds the request: the
//     value stored into the input's TableName, StateMachineArn,
//     ExecutionArn, FunctionName, SecretId or Name field (or a transaction
//     item's TableName, a PutEvents entry's EventBusName, or the table key
//     of a batch request's map), traced
//     back through locals, parameters (callers), results, struct fields (all
//     stores to that field in reachable code), string concatenation and
//     aws.String to constants and environment variables read with
//     getenv("NAME"). What cannot be traced is a hole (*); an empty string
//     (an error path's zero value) names no resource and is dropped.
//
// The analysis is sound modulo reflection, unsafe and external code calling
// methods a value has beyond the interface it was given; it over-
// approximates where VTA does (it is field-based, not object-sensitive).
package awscalls

import (
	"fmt"
	"go/constant"
	"go/token"
	"go/types"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/cha"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

const sdkService = "github.com/aws/aws-sdk-go-v2/service/"

// iamPrefix is each SDK service package's IAM action prefix.
var iamPrefix = map[string]string{
	"dynamodb":       "dynamodb",
	"sfn":            "states",
	"lambda":         "lambda",
	"secretsmanager": "secretsmanager",
	"eventbridge":    "events",
	"sqs":            "sqs",
	"sns":            "sns",
	"s3":             "s3",
	"sts":            "sts",
	"cloudwatch":     "cloudwatch",
}

// iamAction names the IAM action of an SDK operation where it differs from
// the operation's name.
var iamAction = map[string]string{
	"lambda:Invoke":                   "lambda:InvokeFunction",
	"lambda:InvokeAsync":              "lambda:InvokeFunction",
	"lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
	"dynamodb:TransactGetItems":       "dynamodb:GetItem",
}

// resourceFields are the request fields that name the resource an
// operation acts on, in the order they are looked for.
var resourceFields = []string{"TableName", "StateMachineArn", "ExecutionArn", "FunctionName", "SecretId", "Name"}

// itemAction is the action of each DynamoDB transaction item type, and the
// operation that carries it.
var itemAction = map[string][2]string{
	"Put":            {"TransactWriteItems", "dynamodb:PutItem"},
	"Update":         {"TransactWriteItems", "dynamodb:UpdateItem"},
	"Delete":         {"TransactWriteItems", "dynamodb:DeleteItem"},
	"ConditionCheck": {"TransactWriteItems", "dynamodb:ConditionCheckItem"},
	"Get":            {"TransactGetItems", "dynamodb:GetItem"},
}

// Call is one IAM action a function's code can take on one resource.
type Call struct {
	Service   string // SDK package: dynamodb, sfn, lambda, secretsmanager
	Operation string // SDK method: GetItem, TransactWriteItems, Invoke
	Action    string // IAM action: dynamodb:GetItem, lambda:InvokeFunction
	Resource  Value  // the name or ARN the request carries
	// Sites are where the request is built (or called, when no site names
	// its resource), for messages.
	Sites []string
}

func (c Call) String() string { return c.Action + " on " + c.Resource.String() }

// Function is what one main package can call.
type Function struct {
	Package string // dirsync/functions/apply
	Calls   []Call
	// Reachable counts the module's functions (closures included) reachable
	// from main; CHAActions are the actions reachable when interface calls
	// are resolved by class hierarchy alone (what VTA saves).
	Reachable  int
	CHAActions []string
	// Unresolved lists values handed to code outside the module whose
	// callbacks were not resolved precisely (a fallback by signature or
	// interface was used instead).
	Unresolved []string
	// AllRoutes are the actions reachable when every route the handler
	// registers is taken to be reachable (nil for a function without
	// routes); PrunedRoutes the patterns left out.
	AllRoutes    []string
	PrunedRoutes []string
}

// Actions returns the distinct actions of f's calls, sorted.
func (f *Function) Actions() []string {
	set := map[string]bool{}
	for _, c := range f.Calls {
		set[c.Action] = true
	}
	return sortedKeys(set)
}

// Analyze loads the main packages matching patterns (e.g. "./functions/...")
// in the module at dir and derives each one's AWS calls. routes gives, by
// main package path, the route patterns ("GET /v1/syncs/{id}") a function
// receives; a function absent from it keeps every registered route.
func Analyze(dir string, routes map[string][]string, patterns ...string) (map[string]*Function, error) {
	list, err := packages.Load(&packages.Config{
		Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps | packages.NeedModule,
		Dir:  dir,
	}, patterns...)
	if err != nil {
		return nil, fmt.Errorf("awscalls: list %v: %w", patterns, err)
	}
	var mains []string
	own := map[string]bool{}
	packages.Visit(list, nil, func(p *packages.Package) {
		if p.Module != nil && p.Module.Main {
			own[p.PkgPath] = true
		}
	})
	for _, p := range list {
		if p.Name == "main" {
			mains = append(mains, p.PkgPath)
		}
	}
	if len(mains) == 0 {
		return nil, fmt.Errorf("awscalls: no main package matches %v", patterns)
	}
	// Syntax for the module's packages only: the others come from export
	// data, which keeps msgraph-sdk-go out of the type checker.
	loaded, err := packages.Load(&packages.Config{
		Mode: packages.NeedName | packages.NeedImports | packages.NeedTypes | packages.NeedTypesInfo |
			packages.NeedSyntax | packages.NeedFiles | packages.NeedModule,
		Dir: dir,
	}, sortedKeys(own)...)
	if err != nil {
		return nil, fmt.Errorf("awscalls: load: %w", err)
	}
	var errs []string
	packages.Visit(loaded, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("awscalls: the packages do not type-check:\n%s", strings.Join(errs, "\n"))
	}
	prog, pkgs := ssautil.Packages(loaded, ssa.InstantiateGenerics)
	prog.Build()
	a := &analysis{prog: prog, own: own, chaGraph: cha.CallGraph(prog)}
	out := map[string]*Function{}
	for _, p := range pkgs {
		if p == nil || p.Pkg.Name() != "main" {
			continue
		}
		var f *Function
		if rs, ok := routes[p.Pkg.Path()]; ok {
			all, err := a.function(p)
			if err != nil {
				return nil, err
			}
			restore := a.pruneRoutes(rs)
			f, err = a.function(p)
			f.PrunedRoutes = restore()
			if err != nil {
				return nil, err
			}
			f.AllRoutes = all.Actions()
		} else if f, err = a.function(p); err != nil {
			return nil, err
		}
		out[p.Pkg.Path()] = f
	}
	return out, nil
}

type analysis struct {
	prog     *ssa.Program
	own      map[string]bool
	chaGraph *callgraph.Graph
	// pruned are call sites left out of the current analysis.
	pruned map[ssa.CallInstruction]bool
}

var routePattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /`)

// pruneRoutes removes from the module's code every call without results
// that passes a route pattern constant not in keep, and returns a function
// that puts them back and reports the patterns removed.
func (a *analysis) pruneRoutes(keep []string) func() []string {
	kept := map[string]bool{}
	for _, r := range keep {
		kept[r] = true
	}
	type saved struct {
		b      *ssa.BasicBlock
		instrs []ssa.Instruction
	}
	var undo []saved
	removed := map[string]bool{}
	a.pruned = map[ssa.CallInstruction]bool{}
	for fn := range ssautil.AllFunctions(a.prog) {
		if !a.hasBody(fn) {
			continue
		}
		for _, b := range fn.Blocks {
			var instrs []ssa.Instruction
			changed := false
			for _, ins := range b.Instrs {
				if call, ok := ins.(*ssa.Call); ok && (call.Referrers() == nil || len(*call.Referrers()) == 0) {
					if p := constPattern(call.Call.Args); p != "" && !kept[p] {
						removed[p] = true
						a.pruned[call] = true
						changed = true
						continue
					}
				}
				instrs = append(instrs, ins)
			}
			if changed {
				undo = append(undo, saved{b, b.Instrs})
				b.Instrs = instrs
			}
		}
	}
	return func() []string {
		for _, s := range undo {
			s.b.Instrs = s.instrs
		}
		a.pruned = nil
		return sortedKeys(removed)
	}
}

func constPattern(args []ssa.Value) string {
	for _, arg := range args {
		if k, ok := arg.(*ssa.Const); ok && k.Value != nil && k.Value.Kind() == constant.String {
			if s := constant.StringVal(k.Value); routePattern.MatchString(s) {
				return s
			}
		}
	}
	return ""
}

func (a *analysis) inModule(fn *ssa.Function) bool {
	for fn.Parent() != nil {
		fn = fn.Parent()
	}
	if fn.Origin() != nil {
		fn = fn.Origin()
	}
	if fn.Pkg != nil {
		return a.own[fn.Pkg.Pkg.Path()]
	}
	// Wrappers (bound methods, thunks, instantiations) belong to the
	// package of the method they wrap.
	if obj, ok := fn.Object().(*types.Func); ok && obj.Pkg() != nil {
		return a.own[obj.Pkg().Path()]
	}
	return false
}

// hasBody reports whether fn's code is analysed (module code and the
// synthetic wrappers around it); everything else is a black box.
func (a *analysis) hasBody(fn *ssa.Function) bool {
	return fn != nil && len(fn.Blocks) > 0 && a.inModule(fn)
}

func (a *analysis) function(main *ssa.Package) (*Function, error) {
	var roots []*ssa.Function
	for _, name := range []string{"main", "init"} {
		if fn := main.Func(name); fn != nil {
			roots = append(roots, fn)
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("awscalls: %s has no main", main.Pkg.Path())
	}
	r := &reach{a: a, graph: a.chaGraph}
	r.run(roots)
	chaOps := r.awsOps()
	// VTA over what CHA reaches, then over what VTA reaches, as the vta
	// package recommends: each round drops callees that no type flow
	// supports.
	for i := 0; i < 2; i++ {
		g := vta.CallGraph(r.reached, r.graph)
		r = &reach{a: a, graph: g}
		r.run(roots)
	}
	f := &Function{Package: main.Pkg.Path(), Unresolved: r.unresolved}
	for fn := range r.reached {
		if a.inModule(fn) {
			f.Reachable++
		}
	}
	chaSet := map[string]bool{}
	for _, op := range chaOps {
		for _, act := range actionsOf(op.service, op.method) {
			chaSet[act] = true
		}
	}
	f.CHAActions = sortedKeys(chaSet)
	calls, err := r.calls()
	if err != nil {
		return nil, fmt.Errorf("awscalls: %s: %w", main.Pkg.Path(), err)
	}
	f.Calls = calls
	return f, nil
}

// reach is reachability over one call graph, with callbacks from code
// outside the module as extra roots.
type reach struct {
	a          *analysis
	graph      *callgraph.Graph
	reached    map[*ssa.Function]bool
	unresolved []string
}

func (r *reach) run(roots []*ssa.Function) {
	r.reached = map[*ssa.Function]bool{}
	var work []*ssa.Function
	add := func(fn *ssa.Function) {
		if fn != nil && !r.reached[fn] {
			r.reached[fn] = true
			work = append(work, fn)
		}
	}
	for _, fn := range roots {
		add(fn)
	}
	var escaped []escape
	for len(work) > 0 || len(escaped) > 0 {
		for len(work) > 0 {
			fn := work[len(work)-1]
			work = work[:len(work)-1]
			if node := r.graph.Nodes[fn]; node != nil {
				for _, e := range node.Out {
					if !r.a.pruned[e.Site] {
						add(e.Callee.Func)
					}
				}
			}
			if !r.a.hasBody(fn) {
				continue
			}
			for _, b := range fn.Blocks {
				for _, ins := range b.Instrs {
					call, ok := ins.(ssa.CallInstruction)
					if !ok || !r.callsOutside(fn, call) {
						continue
					}
					// The arguments, not an invoked receiver: that is the
					// outside code itself.
					for _, arg := range call.Common().Args {
						escaped = append(escaped, escape{arg, call})
					}
				}
			}
		}
		// Resolve escapes once the directly reachable code is known, so a
		// fallback sees every candidate.
		pending := escaped
		escaped = nil
		for _, e := range pending {
			for _, fn := range r.callbacks(e) {
				add(fn)
			}
		}
	}
}

type escape struct {
	v    ssa.Value
	call ssa.CallInstruction
}

// callsOutside reports whether call may run code outside the module.
func (r *reach) callsOutside(caller *ssa.Function, call ssa.CallInstruction) bool {
	if fn := call.Common().StaticCallee(); fn != nil {
		return !r.a.hasBody(fn)
	}
	node := r.graph.Nodes[caller]
	if node == nil {
		return false
	}
	for _, e := range node.Out {
		if e.Site == call && !r.a.hasBody(e.Callee.Func) {
			return true
		}
	}
	return false
}

// callbacks returns the module code that code outside the module may run
// through v.
func (r *reach) callbacks(e escape) []*ssa.Function {
	var out []*ssa.Function
	seen := map[ssa.Value]bool{}
	var walk func(v ssa.Value, iface *types.Interface)
	walk = func(v ssa.Value, iface *types.Interface) {
		if v == nil || seen[v] {
			return
		}
		seen[v] = true
		switch v := v.(type) {
		case *ssa.Function:
			out = append(out, v)
		case *ssa.MakeClosure:
			out = append(out, v.Fn.(*ssa.Function))
		case *ssa.MakeInterface:
			it, _ := v.Type().Underlying().(*types.Interface)
			if iface != nil {
				it = iface
			}
			out = append(out, r.methods(v.X.Type(), it)...)
			walk(v.X, nil)
		case *ssa.ChangeInterface:
			walk(v.X, v.Type().Underlying().(*types.Interface))
		case *ssa.ChangeType:
			walk(v.X, iface)
		case *ssa.Convert:
			walk(v.X, iface)
		case *ssa.Phi:
			for _, x := range v.Edges {
				walk(x, iface)
			}
		case *ssa.Call:
			if fn := v.Call.StaticCallee(); r.a.hasBody(fn) {
				for _, b := range fn.Blocks {
					if ret, ok := b.Instrs[len(b.Instrs)-1].(*ssa.Return); ok && len(ret.Results) == 1 {
						walk(ret.Results[0], iface)
					}
				}
				return
			}
			r.fallback(v, iface, &out)
		case *ssa.Const:
			// nil
		default:
			r.fallback(v, iface, &out)
		}
	}
	walk(e.v, nil)
	return out
}

// fallback handles a value handed outside the module whose origin is not
// followed (a parameter, a field, a map element): any reachable function
// of its signature whose address is taken, or the interface's methods of
// any module type converted to an interface in reachable code.
func (r *reach) fallback(v ssa.Value, iface *types.Interface, out *[]*ssa.Function) {
	t := v.Type()
	switch u := t.Underlying().(type) {
	case *types.Signature:
		var fns []*ssa.Function
		for fn := range r.addressTaken() {
			if types.Identical(fn.Signature, u) {
				fns = append(fns, fn)
			}
		}
		r.note(v, fmt.Sprintf("a %s value: the address-taken functions of its signature", t), fns)
		*out = append(*out, fns...)
	case *types.Interface:
		if iface != nil {
			u = iface
		}
		if u.NumMethods() == 0 {
			return
		}
		var fns []*ssa.Function
		for _, ct := range r.convertedTypes() {
			if types.Implements(ct, u) {
				fns = append(fns, r.methods(ct, u)...)
			}
		}
		r.note(v, fmt.Sprintf("a %s value: its methods on the module's types converted to interfaces", t), fns)
		*out = append(*out, fns...)
	}
}

// note records a fallback that added module code.
func (r *reach) note(v ssa.Value, what string, fns []*ssa.Function) {
	var names []string
	for _, fn := range fns {
		if r.a.hasBody(fn) {
			names = append(names, fn.String())
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	pos := "?"
	if fn := v.Parent(); fn != nil {
		pos = position(fn.Prog.Fset, v.Pos(), fn)
	}
	r.unresolved = append(r.unresolved, pos+": "+what+": "+strings.Join(names, ", "))
}

// methods returns the methods of iface that t's method set provides and
// the module implements.
func (r *reach) methods(t types.Type, iface *types.Interface) []*ssa.Function {
	if iface == nil {
		return nil
	}
	var out []*ssa.Function
	ms := r.a.prog.MethodSets.MethodSet(t)
	for i := 0; i < iface.NumMethods(); i++ {
		m := iface.Method(i)
		sel := ms.Lookup(m.Pkg(), m.Name())
		if sel == nil {
			continue
		}
		if fn := r.a.prog.MethodValue(sel); fn != nil {
			out = append(out, fn)
		}
	}
	return out
}

func (r *reach) addressTaken() map[*ssa.Function]bool {
	set := map[*ssa.Function]bool{}
	for fn := range r.reached {
		if !r.a.hasBody(fn) {
			continue
		}
		for _, b := range fn.Blocks {
			for _, ins := range b.Instrs {
				if mc, ok := ins.(*ssa.MakeClosure); ok {
					set[mc.Fn.(*ssa.Function)] = true
				}
				for _, op := range ins.Operands(nil) {
					if f, ok := (*op).(*ssa.Function); ok {
						if c, isCall := ins.(ssa.CallInstruction); isCall && c.Common().Value == f {
							continue
						}
						set[f] = true
					}
				}
			}
		}
	}
	return set
}

func (r *reach) convertedTypes() []types.Type {
	var out []types.Type
	seen := map[string]bool{}
	for fn := range r.reached {
		if !r.a.hasBody(fn) {
			continue
		}
		for _, b := range fn.Blocks {
			for _, ins := range b.Instrs {
				if mi, ok := ins.(*ssa.MakeInterface); ok {
					t := mi.X.Type()
					if k := types.TypeString(t, nil); !seen[k] {
						seen[k] = true
						out = append(out, t)
					}
				}
			}
		}
	}
	return out
}

// awsOp is a reachable call of an SDK client method.
type awsOp struct {
	service, method string
	site            string
}

func sdkClientMethod(fn *ssa.Function) (service, method string, ok bool) {
	recv := fn.Signature.Recv()
	if recv == nil {
		return "", "", false
	}
	ptr, isPtr := recv.Type().(*types.Pointer)
	if !isPtr {
		return "", "", false
	}
	named, isNamed := ptr.Elem().(*types.Named)
	if !isNamed || named.Obj().Name() != "Client" || named.Obj().Pkg() == nil {
		return "", "", false
	}
	path := named.Obj().Pkg().Path()
	if !strings.HasPrefix(path, sdkService) || strings.Contains(strings.TrimPrefix(path, sdkService), "/") {
		return "", "", false
	}
	return strings.TrimPrefix(path, sdkService), fn.Name(), true
}

func (r *reach) awsOps() []awsOp {
	var out []awsOp
	for fn := range r.reached {
		if !r.a.hasBody(fn) {
			continue
		}
		node := r.graph.Nodes[fn]
		if node == nil {
			continue
		}
		for _, e := range node.Out {
			if r.a.pruned[e.Site] {
				continue
			}
			if svc, m, ok := sdkClientMethod(e.Callee.Func); ok {
				out = append(out, awsOp{svc, m, position(fn.Prog.Fset, e.Site.Pos(), fn)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].site < out[j].site })
	return out
}

// actionsOf is the IAM actions an operation may need, before its resource
// sites are known.
func actionsOf(service, method string) []string {
	if service == "dynamodb" && method == "TransactWriteItems" {
		return []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}
	}
	return []string{action(service, method)}
}

func action(service, method string) string {
	prefix, ok := iamPrefix[service]
	if !ok {
		prefix = "UNKNOWN-" + service
	}
	a := prefix + ":" + method
	if alt, ok := iamAction[a]; ok {
		return alt
	}
	return a
}

// site is where reachable code names a resource in a request.
type site struct {
	service, operation, action string
	value                      ssa.Value
	pos                        string
}

// sites finds the resource names stored into requests by reachable code.
func (r *reach) sites() []site {
	var out []site
	for fn := range r.reached {
		if !r.a.hasBody(fn) {
			continue
		}
		for _, b := range fn.Blocks {
			for _, ins := range b.Instrs {
				switch ins := ins.(type) {
				case *ssa.Store:
					fa, ok := ins.Addr.(*ssa.FieldAddr)
					if !ok {
						continue
					}
					st := fa.X.Type().Underlying().(*types.Pointer).Elem()
					named, ok := st.(*types.Named)
					if !ok || named.Obj().Pkg() == nil {
						continue
					}
					field := named.Underlying().(*types.Struct).Field(fa.Field).Name()
					path := named.Obj().Pkg().Path()
					if !strings.HasPrefix(path, sdkService) {
						continue
					}
					svc, sub, _ := strings.Cut(strings.TrimPrefix(path, sdkService), "/")
					name := named.Obj().Name()
					switch {
					case sub == "" && strings.HasSuffix(name, "Input"):
						op := strings.TrimSuffix(name, "Input")
						if resourceField(named) == field {
							out = append(out, site{svc, op, action(svc, op), ins.Val, position(fn.Prog.Fset, ins.Pos(), fn)})
						}
					case svc == "dynamodb" && sub == "types" && field == "TableName":
						if ia, ok := itemAction[name]; ok {
							out = append(out, site{svc, ia[0], ia[1], ins.Val, position(fn.Prog.Fset, ins.Pos(), fn)})
						}
					case svc == "eventbridge" && sub == "types" && name == "PutEventsRequestEntry" && field == "EventBusName":
						// PutEvents names its bus on each entry.
						out = append(out, site{svc, "PutEvents", action(svc, "PutEvents"), ins.Val, position(fn.Prog.Fset, ins.Pos(), fn)})
					}
				case *ssa.MapUpdate:
					if op := batchMap(ins.Map.Type()); op != "" {
						out = append(out, site{"dynamodb", op, action("dynamodb", op), ins.Key, position(fn.Prog.Fset, ins.Pos(), fn)})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	return out
}

// resourceField is the field of an operation's input naming its resource.
func resourceField(input *types.Named) string {
	st := input.Underlying().(*types.Struct)
	for _, want := range resourceFields {
		for i := 0; i < st.NumFields(); i++ {
			if st.Field(i).Name() == want {
				return want
			}
		}
	}
	return ""
}

// batchMap names the batch operation whose RequestItems map has type t.
func batchMap(t types.Type) string {
	m, ok := t.Underlying().(*types.Map)
	if !ok {
		return ""
	}
	elem := types.TypeString(m.Elem(), nil)
	switch elem {
	case sdkService + "dynamodb/types.KeysAndAttributes":
		return "BatchGetItem"
	case "[]" + sdkService + "dynamodb/types.WriteRequest":
		return "BatchWriteItem"
	}
	return ""
}

// calls pairs each reachable operation with the resources its requests
// name.
func (r *reach) calls() ([]Call, error) {
	ops := r.awsOps()
	reachedOps := map[string][]string{}
	for _, op := range ops {
		if _, ok := iamPrefix[op.service]; !ok {
			return nil, fmt.Errorf("%s calls %s.%s: add the service's IAM prefix to awscalls.iamPrefix", op.site, op.service, op.method)
		}
		k := op.service + "." + op.method
		reachedOps[k] = append(reachedOps[k], op.site)
	}
	tr := newTracer(r)
	byKey := map[string]*Call{}
	named := map[string]bool{}
	for _, s := range r.sites() {
		k := s.service + "." + s.operation
		if reachedOps[k] == nil {
			continue // built but never sent
		}
		named[k] = true
		for _, v := range tr.origins(s.value) {
			if len(v) == 0 {
				continue // "": an error path's zero value
			}
			c := Call{Service: s.service, Operation: s.operation, Action: s.action, Resource: v}
			key := c.String()
			if byKey[key] == nil {
				byKey[key] = &c
			}
			byKey[key].Sites = append(byKey[key].Sites, s.pos)
		}
	}
	for k, sites := range reachedOps {
		if named[k] {
			continue
		}
		svc, m, _ := strings.Cut(k, ".")
		for _, act := range actionsOf(svc, m) {
			c := Call{Service: svc, Operation: m, Action: act, Resource: Value{{Hole: true}}, Sites: sites}
			byKey[c.String()] = &c
		}
	}
	var out []Call
	for _, c := range byKey {
		sort.Strings(c.Sites)
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

func position(fset *token.FileSet, pos token.Pos, fn *ssa.Function) string {
	if !pos.IsValid() {
		pos = fn.Pos()
	}
	p := fset.Position(pos)
	file := p.Filename
	if i := strings.LastIndex(file, "/internal/"); i >= 0 {
		file = file[i+1:]
	} else if i := strings.LastIndex(file, "/functions/"); i >= 0 {
		file = file[i+1:]
	}
	return fmt.Sprintf("%s:%d", file, p.Line)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
