// Reads Kubernetes objects as JSON (one array on stdin) and prints, for each, what Flux's and the cli-utils
// health checks conclude: sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, the real library, not our reading
// of it. Output: one JSON array of {name, status, message} in input order.
//
//	kubectl get istiooperators -A -o json | jq .items | kstatus
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	// apimachinery's JSON reader, as the apiserver's clients decode: integers stay int64 (kstatus requires it).
	data, err := io.ReadAll(os.Stdin)
	var objs []interface{}
	if err == nil {
		err = utiljson.Unmarshal(data, &objs)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: stdin is not a JSON array of objects: %v\n", err)
		os.Exit(2)
	}
	out := make([]result, 0, len(objs))
	for _, item := range objs {
		o, ok := item.(map[string]interface{})
		if !ok {
			fmt.Fprintf(os.Stderr, "kstatus: not an object: %v\n", item)
			os.Exit(2)
		}
		u := &unstructured.Unstructured{Object: o}
		r, err := status.Compute(u)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: %s/%s: %v\n", u.GetNamespace(), u.GetName(), err)
			os.Exit(1)
		}
		out = append(out, result{Name: u.GetNamespace() + "/" + u.GetName(), Status: r.Status.String(), Message: r.Message})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
