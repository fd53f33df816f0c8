// flux-health evaluates Flux health-check expressions the way kustomize-controller does,
// for the GitOps target's tests: one JSON case per line on stdin, {"current", "failed",
// "inProgress", "object"}, one verdict per line on stdout (Current, Failed, InProgress,
// or "Unknown: <error>" when an expression cannot be evaluated, which Flux reports as
// not ready).
//
// The CEL environment and the order of evaluation are Flux's, rewritten from fluxcd/pkg
// runtime/cel/expression.go (NewExpression: the environment options, parsed, not
// compiled, so that the object's top-level fields are the variables) and
// runtime/cel/status_evaluator.go (Evaluate: an integer status.observedGeneration that
// differs from metadata.generation is InProgress before any expression; then inProgress,
// failed, current; none true is InProgress).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
)

type testCase struct {
	Current    string         `json:"current"`
	Failed     string         `json:"failed"`
	InProgress string         `json:"inProgress"`
	Object     map[string]any `json:"object"`
}

func program(expr string) (cel.Program, error) {
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
	if err != nil {
		return nil, err
	}
	ast, issues := env.Parse(expr)
	if issues != nil && issues.Err() != nil {
		return nil, issues.Err()
	}
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
}

// integer reads a JSON number as Kubernetes' unstructured objects hold it: int64.
func integer(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// normalize turns the JSON numbers that are whole into int64, as unstructured does.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	case float64:
		if i, ok := integer(t); ok {
			return i
		}
		return t
	default:
		return v
	}
}

func evaluate(c testCase) string {
	obj := c.Object
	if status, ok := obj["status"].(map[string]any); ok {
		if meta, ok := obj["metadata"].(map[string]any); ok {
			observed, ok1 := integer(status["observedGeneration"])
			generation, ok2 := integer(meta["generation"])
			if ok1 && ok2 && observed != generation {
				return "InProgress"
			}
		}
	}
	data := normalize(obj).(map[string]any)
	for _, e := range []struct{ expr, verdict string }{
		{c.InProgress, "InProgress"},
		{c.Failed, "Failed"},
		{c.Current, "Current"},
	} {
		if e.expr == "" {
			continue
		}
		prog, err := program(e.expr)
		if err != nil {
			return "Unknown: " + err.Error()
		}
		val, _, err := prog.Eval(data)
		if err != nil {
			return "Unknown: " + err.Error()
		}
		b, ok := val.(types.Bool)
		if !ok {
			return "Unknown: not a boolean"
		}
		if bool(b) {
			return e.verdict
		}
	}
	return "InProgress"
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		var c testCase
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			fmt.Println("Unknown: " + err.Error())
			continue
		}
		fmt.Println(evaluate(c))
	}
}
