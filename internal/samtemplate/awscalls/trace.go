package awscalls

import (
	"go/constant"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/ssa"
)

// Part is a piece of a traced string: a literal, the value of an
// environment variable, or a hole (anything).
type Part struct {
	Lit  string
	Env  string
	Hole bool
}

// Value is a traced string, e.g. ${SECRET_PREFIX} "/" * "/entra-client-secret".
type Value []Part

func (v Value) String() string {
	var b strings.Builder
	for _, p := range v {
		switch {
		case p.Hole:
			b.WriteString("*")
		case p.Env != "":
			b.WriteString("${" + p.Env + "}")
		default:
			b.WriteString(p.Lit)
		}
	}
	return b.String()
}

// Resolve renders v with env giving each variable's value and hole standing
// for each hole; ok is false when a variable is not set.
func (v Value) Resolve(env map[string]string, hole string) (string, bool) {
	var b strings.Builder
	for _, p := range v {
		switch {
		case p.Hole:
			b.WriteString(hole)
		case p.Env != "":
			s, ok := env[p.Env]
			if !ok {
				return "", false
			}
			b.WriteString(s)
		default:
			b.WriteString(p.Lit)
		}
	}
	return b.String(), true
}

// Envs are the variables v reads.
func (v Value) Envs() []string {
	var out []string
	for _, p := range v {
		if p.Env != "" {
			out = append(out, p.Env)
		}
	}
	return out
}

// AllHole reports whether nothing of v could be traced.
func (v Value) AllHole() bool {
	for _, p := range v {
		if !p.Hole {
			return false
		}
	}
	return true
}

func concat(a, b Value) Value {
	out := append(Value{}, a...)
	for _, p := range b {
		n := len(out)
		switch {
		case n > 0 && p.Hole && out[n-1].Hole:
		case n > 0 && p.Lit != "" && out[n-1].Lit != "":
			out[n-1].Lit += p.Lit
		case !p.Hole && p.Env == "" && p.Lit == "":
		default:
			out = append(out, p)
		}
	}
	return out
}

var hole = []Value{{{Hole: true}}}

// maxAlternatives bounds the values a trace keeps; beyond it the value is a
// hole.
const maxAlternatives = 8

// maxFrames bounds how deep a trace follows calls into results.
const maxFrames = 8

type frame struct {
	fn     *ssa.Function
	args   []ssa.Value // the callee's parameters' values, receiver first
	parent *frame
	depth  int
}

// tracer follows string values back to their origins over the reachable
// code.
type tracer struct {
	r           *reach
	fieldStores map[*types.Var][]ssa.Value
	addrStores  map[ssa.Value][]ssa.Value
	closures    map[*ssa.Function][]*ssa.MakeClosure
	callers     map[*ssa.Function][]ssa.CallInstruction
	callees     map[ssa.CallInstruction][]*ssa.Function
	memo        map[ssa.Value][]Value
	busy        map[ssa.Value]bool
}

func newTracer(r *reach) *tracer {
	t := &tracer{
		r:           r,
		fieldStores: map[*types.Var][]ssa.Value{},
		addrStores:  map[ssa.Value][]ssa.Value{},
		closures:    map[*ssa.Function][]*ssa.MakeClosure{},
		callers:     map[*ssa.Function][]ssa.CallInstruction{},
		callees:     map[ssa.CallInstruction][]*ssa.Function{},
		memo:        map[ssa.Value][]Value{},
		busy:        map[ssa.Value]bool{},
	}
	for fn := range r.reached {
		if node := r.graph.Nodes[fn]; node != nil {
			for _, e := range node.Out {
				if r.a.pruned[e.Site] {
					continue
				}
				t.callees[e.Site] = append(t.callees[e.Site], e.Callee.Func)
				t.callers[e.Callee.Func] = append(t.callers[e.Callee.Func], e.Site)
			}
		}
		if !r.a.hasBody(fn) {
			continue
		}
		for _, b := range fn.Blocks {
			for _, ins := range b.Instrs {
				switch ins := ins.(type) {
				case *ssa.Store:
					if fa, ok := ins.Addr.(*ssa.FieldAddr); ok {
						f := fieldOf(fa.X.Type().Underlying().(*types.Pointer).Elem(), fa.Field)
						t.fieldStores[f] = append(t.fieldStores[f], ins.Val)
					} else {
						t.addrStores[ins.Addr] = append(t.addrStores[ins.Addr], ins.Val)
					}
				case *ssa.MakeClosure:
					fn := ins.Fn.(*ssa.Function)
					t.closures[fn] = append(t.closures[fn], ins)
				}
			}
		}
	}
	return t
}

func fieldOf(t types.Type, i int) *types.Var {
	return t.Underlying().(*types.Struct).Field(i)
}

// origins returns the values v may hold, traced from outside any call.
func (t *tracer) origins(v ssa.Value) []Value {
	return t.trace(v, nil)
}

func (t *tracer) trace(v ssa.Value, f *frame) []Value {
	if f == nil {
		if out, ok := t.memo[v]; ok {
			return out
		}
	}
	if t.busy[v] {
		return hole
	}
	t.busy[v] = true
	out := dedupe(t.step(v, f))
	delete(t.busy, v)
	if f == nil {
		t.memo[v] = out
	}
	return out
}

func (t *tracer) union(vs []ssa.Value, f *frame) []Value {
	var out []Value
	for _, v := range vs {
		out = append(out, t.trace(v, f)...)
	}
	if len(vs) == 0 {
		return hole
	}
	return out
}

func (t *tracer) step(v ssa.Value, f *frame) []Value {
	switch v := v.(type) {
	case *ssa.Const:
		if v.Value != nil && v.Value.Kind() == constant.String {
			if s := constant.StringVal(v.Value); s != "" {
				return []Value{{{Lit: s}}}
			}
			return []Value{{}}
		}
		return hole
	case *ssa.Parameter:
		fn := v.Parent()
		idx := -1
		for i, p := range fn.Params {
			if p == v {
				idx = i
			}
		}
		if f != nil && f.fn == fn && idx >= 0 && idx < len(f.args) {
			return t.trace(f.args[idx], f.parent)
		}
		var args []ssa.Value
		for _, c := range t.callers[fn] {
			if a := paramArg(c.Common(), idx); a != nil {
				args = append(args, a)
			}
		}
		return t.union(args, nil)
	case *ssa.FreeVar:
		fn := v.Parent()
		idx := -1
		for i, fv := range fn.FreeVars {
			if fv == v {
				idx = i
			}
		}
		var bound []ssa.Value
		for _, mc := range t.closures[fn] {
			bound = append(bound, mc.Bindings[idx])
		}
		return t.union(bound, nil)
	case *ssa.UnOp:
		if v.Op == token.MUL {
			return t.load(v.X, f)
		}
		return hole
	case *ssa.Field:
		return t.union(t.fieldStores[fieldOf(v.X.Type(), v.Field)], nil)
	case *ssa.Phi:
		return t.union(v.Edges, f)
	case *ssa.BinOp:
		if v.Op != token.ADD {
			return hole
		}
		var out []Value
		for _, a := range t.trace(v.X, f) {
			for _, b := range t.trace(v.Y, f) {
				out = append(out, concat(a, b))
			}
		}
		return out
	case *ssa.ChangeType:
		return t.trace(v.X, f)
	case *ssa.MakeInterface:
		return t.trace(v.X, f)
	case *ssa.Convert:
		if isString(v.Type()) && isString(v.X.Type()) {
			return t.trace(v.X, f)
		}
		return hole
	case *ssa.Call:
		return t.call(v, 0, f)
	case *ssa.Extract:
		if c, ok := v.Tuple.(*ssa.Call); ok {
			return t.call(c, v.Index, f)
		}
		return hole
	}
	return hole
}

// load traces what the address addr holds.
func (t *tracer) load(addr ssa.Value, f *frame) []Value {
	switch a := addr.(type) {
	case *ssa.FieldAddr:
		return t.union(t.fieldStores[fieldOf(a.X.Type().Underlying().(*types.Pointer).Elem(), a.Field)], nil)
	case *ssa.Alloc, *ssa.Global:
		return t.union(t.addrStores[addr], f)
	case *ssa.FreeVar:
		var vals []ssa.Value
		vals = append(vals, t.addrStores[a]...)
		for _, mc := range t.closures[a.Parent()] {
			for i, fv := range a.Parent().FreeVars {
				if fv == a {
					b := mc.Bindings[i]
					vals = append(vals, t.addrStores[b]...)
				}
			}
		}
		return t.union(vals, nil)
	}
	return hole
}

func isString(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsString != 0
}

// paramArg is the value a call passes for the callee's parameter idx
// (the receiver being parameter 0 of a method).
func paramArg(c *ssa.CallCommon, idx int) ssa.Value {
	args := c.Args
	if c.IsInvoke() {
		args = append([]ssa.Value{c.Value}, args...)
	}
	if idx < 0 || idx >= len(args) {
		return nil
	}
	return args[idx]
}

// call traces result i of a call.
func (t *tracer) call(c *ssa.Call, i int, f *frame) []Value {
	common := &c.Call
	callees := t.callees[c]
	if fn := common.StaticCallee(); fn != nil {
		callees = []*ssa.Function{fn}
	}
	var out []Value
	for _, fn := range callees {
		switch {
		case isFunc(fn, "github.com/aws/aws-sdk-go-v2/aws", "String", "ToString"):
			out = append(out, t.trace(common.Args[0], f)...)
		case isFunc(fn, "os", "Getenv"):
			if k, ok := common.Args[0].(*ssa.Const); ok && k.Value.Kind() == constant.String {
				out = append(out, Value{{Env: constant.StringVal(k.Value)}})
			} else {
				out = append(out, hole...)
			}
		case t.r.a.hasBody(fn) && (f == nil || f.depth < maxFrames):
			args := common.Args
			if common.IsInvoke() {
				args = append([]ssa.Value{common.Value}, args...)
			}
			depth := 0
			if f != nil {
				depth = f.depth + 1
			}
			inner := &frame{fn: fn, args: args, parent: f, depth: depth}
			var results []ssa.Value
			for _, b := range fn.Blocks {
				if ret, ok := b.Instrs[len(b.Instrs)-1].(*ssa.Return); ok && i < len(ret.Results) {
					results = append(results, ret.Results[i])
				}
			}
			out = append(out, t.union(results, inner)...)
		default:
			out = append(out, hole...)
		}
	}
	if len(out) == 0 {
		return hole
	}
	return out
}

func isFunc(fn *ssa.Function, pkg string, names ...string) bool {
	if fn.Pkg == nil || fn.Pkg.Pkg.Path() != pkg || fn.Signature.Recv() != nil {
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

func dedupe(vs []Value) []Value {
	seen := map[string]bool{}
	var out []Value
	for _, v := range vs {
		if k := v.String(); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	if len(out) > maxAlternatives {
		return hole
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
