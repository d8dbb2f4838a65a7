// Behavioural check of our injection templates (manifests/pilot/injection) against Istio's: both are executed
// the way istiod does (Go text/template, sprig, stand-ins for Istio's own template functions) on the same pods
// and gateways, the output parsed as YAML and compared leaf by leaf. Text may differ; the objects must not.
//
//	npx tsc -p . && node dist/test/injection/dump.js /tmp/inj
//	cd test/injection && GOFLAGS=-mod=mod GOPROXY=off go run . /tmp/inj
//
// Exit status 1 when one of our templates fails to parse, execute or yield YAML.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type Mode int

func (m Mode) String() string { return []string{"REDIRECT", "TPROXY", "NONE"}[m] }

type BoolValue struct{ Value bool }

func (b *BoolValue) GetValue() bool {
	if b == nil {
		return false
	}
	return b.Value
}

type TLS struct{ CaCertificates string }

func (t *TLS) GetCaCertificates() string {
	if t == nil {
		return ""
	}
	return t.CaCertificates
}

type Tracing struct{ TlsSettings *TLS }

func (t *Tracing) GetTlsSettings() *TLS {
	if t == nil {
		return nil
	}
	return t.TlsSettings
}

type ProxyConfig struct {
	InterceptionMode                Mode
	HoldApplicationUntilProxyStarts *BoolValue
	ProxyMetadata                   map[string]string
	Tracing                         *Tracing
	DiscoveryAddress                string
}

func (p *ProxyConfig) GetTracing() *Tracing { return p.Tracing }

type MeshConfig struct {
	ProxyListenPort        int32
	ProxyInboundListenPort int32
	TrustDomain            string
}
type ObjectMeta struct {
	Name, Namespace     string
	Labels, Annotations map[string]string
}
type Port struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
}
type Container struct {
	Name  string
	Ports []Port
}
type PodSpec struct {
	Containers         []Container
	ServiceAccountName string
}
type TypeMeta struct{ APIVersion, Kind string }

type Data struct {
	TypeMeta                 TypeMeta
	DeploymentMeta           ObjectMeta
	ObjectMeta               ObjectMeta
	Spec                     PodSpec
	ProxyConfig              *ProxyConfig
	MeshConfig               *MeshConfig
	Values                   map[string]any
	Revision                 string
	NativeSidecars           bool
	ProxyImage               string
	ProxyInitImage           string
	InboundTrafficPolicyMode string
	CompliancePolicy         string
	ProxyUID                 *int64
	ProxyGID                 *int64
}

type GwPort struct {
	Name        string
	Port        int32
	AppProtocol string
}
type GwAddr struct{ Value string }
type GwSpec struct{ Addresses []GwAddr }
type GwData struct {
	Data
	Name, Namespace, DeploymentName, ServiceAccount, GatewayClass, ControllerLabel, UID, GatewayNameLabel, ServiceType, ClusterID, AgentgatewayImage string
	InfrastructureLabels, InfrastructureAnnotations                                                                                                  map[string]string
	KubeVersion                                                                                                                                      int
	Ports                                                                                                                                            []GwPort
	Spec                                                                                                                                             GwSpec
}

func funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	f["annotation"] = func(meta ObjectMeta, name string, def any) string {
		if v, ok := meta.Annotations[name]; ok {
			return v
		}
		return fmt.Sprint(def)
	}
	f["isset"] = func(m map[string]string, k string) bool { _, ok := m[k]; return ok }
	f["valueOrDefault"] = func(v any, d any) any {
		if v == nil || v == "" {
			return d
		}
		return v
	}
	f["excludeInboundPort"] = func(port any, excluded string) string {
		p := strings.TrimSpace(fmt.Sprint(port))
		if p == "" || p == "0" {
			return excluded
		}
		out := []string{}
		for _, x := range strings.Split(excluded, ",") {
			x = strings.TrimSpace(x)
			if x == p {
				return excluded
			}
			if x != "" {
				out = append(out, x)
			}
		}
		return strings.Join(append(out, p), ",")
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	f["protoToJSON"] = js
	f["structToJSON"] = js
	f["toJSON"] = js
	f["fromJSON"] = func(s string) any { var v any; _ = json.Unmarshal([]byte(s), &v); return v }
	f["toJsonMap"] = func(mps ...map[string]string) string {
		m := map[string]string{}
		for _, x := range mps {
			for k, v := range x {
				m[k] = v
			}
		}
		return js(m)
	}
	f["strdict"] = func(v ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(v); i += 2 {
			m[v[i]] = v[i+1]
		}
		return m
	}
	f["omit"] = func(m map[string]string, keys ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for _, k := range keys {
			delete(out, k)
		}
		return out
	}
	f["omitNil"] = func(m map[string]any) map[string]any { return m }
	f["toYaml"] = func(v any) string { b, _ := yaml.Marshal(v); return strings.TrimSuffix(string(b), "\n") }
	f["directory"] = filepath.Dir
	f["toLower"] = strings.ToLower
	// Istio's own indent: every line but the first (the template puts the first line's spaces itself).
	f["indent"] = func(n int, src string) string {
		lines := strings.Split(src, "\n")
		for i := range lines {
			if i > 0 {
				lines[i] = strings.Repeat(" ", n) + lines[i]
			}
		}
		return strings.Join(lines, "\n")
	}
	f["appendMultusNetwork"] = func(existing, cni string) string {
		if existing == "" {
			return cni
		}
		return existing + ", " + cni
	}
	f["otelResourceAttributes"] = func(args ...any) string { return "" }
	return f
}

func render(file string, data any) (string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	t, err := template.New("inject").Funcs(funcs()).Parse(string(src))
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", file, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("exec %s: %w", file, err)
	}
	return buf.String(), nil
}

func parseDocs(s string) ([]any, error) {
	var out []any
	for _, doc := range strings.Split(s, "\n---") {
		var v any
		if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, doc)
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

var leaves, agree int

func diff(path string, g, o any, out *[]string) {
	gm, gok := g.(map[string]any)
	om, ook := o.(map[string]any)
	if gok && ook {
		keys := map[string]bool{}
		for k := range gm {
			keys[k] = true
		}
		for k := range om {
			keys[k] = true
		}
		ks := []string{}
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			diff(path+"."+k, gm[k], om[k], out)
		}
		return
	}
	gl, gok := g.([]any)
	ol, ook := o.([]any)
	if gok && ook {
		// named lists by name
		byName := func(l []any) (map[string]any, bool) {
			m := map[string]any{}
			for _, x := range l {
				xm, ok := x.(map[string]any)
				if !ok {
					return nil, false
				}
				n, ok := xm["name"].(string)
				if !ok {
					return nil, false
				}
				m[n] = x
			}
			return m, true
		}
		if gn, ok1 := byName(gl); ok1 {
			if on, ok2 := byName(ol); ok2 {
				diff(path, toAny(gn), toAny(on), out)
				return
			}
		}
		n := len(gl)
		if len(ol) > n {
			n = len(ol)
		}
		for i := 0; i < n; i++ {
			var a, b any
			if i < len(gl) {
				a = gl[i]
			}
			if i < len(ol) {
				b = ol[i]
			}
			diff(fmt.Sprintf("%s[%d]", path, i), a, b, out)
		}
		return
	}
	// empty map/list vs nil are the same for a Pod
	if isEmpty(g) && isEmpty(o) {
		return
	}
	leaves++
	if reflect.DeepEqual(norm(g), norm(o)) {
		agree++
		return
	}
	*out = append(*out, fmt.Sprintf("%s: golden=%v ours=%v", path, js(g), js(o)))
}

func toAny(m map[string]any) any { return m }
func js(v any) string            { b, _ := json.Marshal(v); return string(b) }
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// Kubernetes decodes "1337" and 1337 into the same int field; compare as strings.
func norm(v any) any {
	switch x := v.(type) {
	case float64, int, int64, bool:
		return fmt.Sprint(x)
	case string:
		return strings.TrimSpace(x)
	}
	return v
}

func main() {
	dir := "/tmp/inj"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := os.Chdir(dir); err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	var vals map[string]any
	b, _ := os.ReadFile("values.json")
	_ = json.Unmarshal(b, &vals)
	cloneVals := func(mut func(map[string]any)) map[string]any {
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		if mut != nil {
			mut(v)
		}
		return v
	}
	_ = vals
	base := func() Data {
		return Data{
			TypeMeta:       TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			DeploymentMeta: ObjectMeta{Name: "foo", Namespace: "ns"},
			ObjectMeta:     ObjectMeta{Name: "foo-abc", Namespace: "ns", Labels: map[string]string{"app": "foo", "version": "v1"}, Annotations: map[string]string{}},
			Spec:           PodSpec{Containers: []Container{{Name: "app", Ports: []Port{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}}}, {Name: "helper"}}, ServiceAccountName: "foo"},
			ProxyConfig:    &ProxyConfig{InterceptionMode: 0, ProxyMetadata: map[string]string{}},
			MeshConfig:     &MeshConfig{TrustDomain: "cluster.local"},
			Values:         cloneVals(nil),
			ProxyImage:     "hub/proxyv2:tag",
			ProxyInitImage: "hub/proxyv2:tag",
		}
	}
	scen := map[string]func() Data{
		"basic": base,
		"annotated": func() Data {
			d := base()
			d.ObjectMeta.Annotations = map[string]string{
				"sidecar.istio.io/proxyCPU": "200m", "sidecar.istio.io/proxyMemoryLimit": "1Gi",
				"traffic.sidecar.istio.io/includeOutboundPorts": "80,443", "traffic.sidecar.istio.io/excludeInboundPorts": "9000",
				"sidecar.istio.io/userVolume":        `{"extra":{"emptyDir":{}}}`,
				"sidecar.istio.io/userVolumeMount":   `{"extra":{"mountPath":"/extra"}}`,
				"sidecar.istio.io/bootstrapOverride": "custom-bootstrap", "traffic.sidecar.istio.io/excludeInterfaces": "eth1",
				"kubectl.kubernetes.io/default-container": "helper", "sidecar.istio.io/logLevel": "debug",
			}
			d.ProxyConfig.ProxyMetadata = map[string]string{"ISTIO_META_ENABLE_HBONE": "true", "FOO": "bar"}
			d.ProxyConfig.HoldApplicationUntilProxyStarts = &BoolValue{true}
			d.InboundTrafficPolicyMode = "localhost"
			d.CompliancePolicy = "fips-140-2"
			return d
		},
		"tproxy": func() Data {
			d := base()
			d.ObjectMeta.Annotations = map[string]string{"sidecar.istio.io/interceptionMode": "TPROXY", "sidecar.istio.io/capNetBindService": "true"}
			return d
		},
		"native": func() Data { d := base(); d.NativeSidecars = true; return d },
		"none": func() Data {
			d := base()
			d.ProxyConfig.InterceptionMode = 2
			d.ObjectMeta.Annotations = map[string]string{"status.sidecar.istio.io/port": "0"}
			return d
		},
		"cni": func() Data {
			d := base()
			d.Values = cloneVals(func(v map[string]any) {
				v["pilot"].(map[string]any)["cni"] = map[string]any{"enabled": true, "provider": "multus"}
				g := v["global"].(map[string]any)
				g["imagePullPolicy"] = "Always"
				g["imagePullSecrets"] = []any{"regcred"}
				g["network"] = "net1"
				g["meshID"] = "mesh1"
				g["caName"] = "GkeWorkloadCertificate"
				g["logAsJson"] = true
				g["proxy"].(map[string]any)["excludeOutboundPorts"] = "25"
				g["proxy"].(map[string]any)["excludeIPRanges"] = "10.0.0.0/8"
			})
			d.Revision = "canary"
			d.Values["revision"] = "canary"
			d.ObjectMeta.Annotations = map[string]string{"k8s.v1.cni.cncf.io/networks": "other"}
			return d
		},
	}
	scen["exotic"] = func() Data {
		d := base()
		d.Values = cloneVals(func(v map[string]any) {
			g := v["global"].(map[string]any)
			p := g["proxy"].(map[string]any)
			p["tracer"] = "lightstep"
			p["seccompProfile"] = map[string]any{"type": "RuntimeDefault"}
			p["lifecycle"] = map[string]any{"preStop": map[string]any{"exec": map[string]any{"command": []any{"sleep", "5"}}}}
			p["outlierLogPath"] = "/dev/stdout"
			g["mountMtlsCerts"] = true
			g["trustBundleName"] = "my-bundle"
			g["sts"] = map[string]any{"servicePort": 15463}
			g["proxy_init"].(map[string]any)["forceApplyIptables"] = true
			g["nativeNftables"] = true
			v["pilot"].(map[string]any)["env"] = map[string]any{"ENABLE_CLUSTER_TRUST_BUNDLE_API": true}
			v["gateways"] = map[string]any{"securityContext": map[string]any{"runAsUser": 1000}, "seccompProfile": map[string]any{"type": "RuntimeDefault"}}
		})
		d.ProxyConfig.Tracing = &Tracing{TlsSettings: &TLS{CaCertificates: "/etc/lightstep/ca.pem"}}
		d.ProxyConfig.ProxyMetadata = map[string]string{"IPTABLES_TRACE_LOGGING": "true"}
		d.ObjectMeta.Annotations = map[string]string{
			"status.sidecar.istio.io/port": "15999", "readiness.status.sidecar.istio.io/periodSeconds": "7",
			"sidecar.istio.io/proxyImage": "my.registry/proxy:1", "sidecar.istio.io/nativeSidecar": "false",
			"sidecar.istio.io/proxyCPULimit": "1", "istio.io/reroute-virtual-interfaces": "net1",
		}
		d.NativeSidecars = true
		return d
	}
	scen["nativeNone"] = func() Data {
		d := base()
		d.NativeSidecars = true
		d.ObjectMeta.Annotations = map[string]string{"sidecar.istio.io/interceptionMode": "NONE", "apm.datadoghq.com/env": `{"DD_ENV":"prod"}`}
		d.Values = cloneVals(func(v map[string]any) { v["global"].(map[string]any)["proxy"].(map[string]any)["tracer"] = "datadog" })
		d.Spec.Containers = []Container{{Name: "istio-proxy"}, {Name: "app"}}
		return d
	}
	templates := []string{"sidecar", "gateway", "grpc-agent", "grpc-simple"}
	names := []string{}
	for k := range scen {
		names = append(names, k)
	}
	sort.Strings(names)
	failed := false
	for _, t := range templates {
		tl, ta := leaves, agree
		for _, s := range names {
			d := scen[s]()
			g, err := render("golden/"+t+".tmpl", d)
			if err != nil {
				fmt.Println("GOLDEN ERROR", t, s, err)
				continue
			}
			o, err := render("ours/"+t+".tmpl", d)
			if err != nil {
				fmt.Println("OURS ERROR", t, s, err)
				failed = true
				continue
			}
			gd, err := parseDocs(g)
			if err != nil {
				fmt.Println("GOLDEN YAML", t, s, err)
				continue
			}
			od, err := parseDocs(o)
			if err != nil {
				fmt.Println("OURS YAML", t, s, err)
				failed = true
				continue
			}
			var out []string
			diff("", gd, od, &out)
			for _, l := range out {
				fmt.Printf("  %s/%s %s\n", t, s, l)
			}
		}
		fmt.Printf("%s: %d/%d leaves agree over %d scenarios\n", t, agree-ta, leaves-tl, len(names))
	}
	// Gateway-controller templates.
	gw := func(class, controller string) GwData {
		d := GwData{Data: base()}
		d.Name, d.Namespace, d.DeploymentName, d.ServiceAccount = "gw", "ns", "gw-istio", "gw-istio"
		d.GatewayClass, d.ControllerLabel, d.UID, d.GatewayNameLabel = class, controller, "uid-1", "gateway.networking.k8s.io/gateway-name"
		d.ServiceType, d.ClusterID, d.KubeVersion = "LoadBalancer", "Kubernetes", 130
		d.AgentgatewayImage = "hub/agentgateway:tag"
		d.ProxyConfig.DiscoveryAddress = "istiod.istio-system.svc:15012"
		d.InfrastructureLabels = map[string]string{"topology.istio.io/network": "net1", "x": "y"}
		d.InfrastructureAnnotations = map[string]string{"a": "b", "gateway.istio.io/service-account": "drop"}
		d.Ports = []GwPort{{"http", 80, "http"}, {"status-port", 15021, "tcp"}}
		d.Data.Spec = PodSpec{}
		d.Spec = GwSpec{Addresses: []GwAddr{{"1.2.3.4"}}}
		return d
	}
	for _, c := range []struct{ t, class, ctl string }{{"waypoint", "istio-waypoint", "istio.io-mesh-controller"}, {"waypoint", "istio-east-west", "istio.io-eastwest-controller"}, {"kube-gateway", "istio", "istio.io-gateway-controller"}, {"agentgateway", "agentgateway", "istio.io-agentgateway-controller"}, {"kube-gateway", "istio-hardened", "istio.io-gateway-controller"}, {"agentgateway", "agentgateway-hardened", "istio.io-agentgateway-controller"}, {"waypoint", "istio-waypoint-hardened", "istio.io-mesh-controller"}} {
		tl, ta := leaves, agree
		d := gw(c.class, c.ctl)
		if strings.HasSuffix(c.class, "-hardened") {
			// Pod security, pull settings and scheduling that users set mesh-wide.
			g := d.Values["global"].(map[string]any)
			g["imagePullSecrets"] = []any{"regcred"}
			g["imagePullPolicy"] = "Always"
			g["proxy"].(map[string]any)["lifecycle"] = map[string]any{"preStop": map[string]any{"exec": map[string]any{"command": []any{"sleep", "5"}}}}
			g["waypoint"].(map[string]any)["nodeSelector"] = map[string]any{"pool": "mesh"}
			g["waypoint"].(map[string]any)["tolerations"] = []any{map[string]any{"key": "mesh", "operator": "Exists"}}
			g["logAsJson"] = true
			d.Values["gateways"] = map[string]any{"securityContext": map[string]any{}, "seccompProfile": map[string]any{"type": "RuntimeDefault"}}
			d.ProxyConfig.ProxyMetadata = map[string]string{"A": "b"}
			d.InfrastructureLabels = map[string]string{"x": "y"}
		}
		g, err := render("golden/"+c.t+".tmpl", d)
		if err != nil {
			fmt.Println("GOLDEN ERROR", c.t, err)
			continue
		}
		o, err := render("ours/"+c.t+".tmpl", d)
		if err != nil {
			fmt.Println("OURS ERROR", c.t, err)
			failed = true
			continue
		}
		gd, err1 := parseDocs(g)
		od, err2 := parseDocs(o)
		if err1 != nil || err2 != nil {
			fmt.Println("YAML", c.t, err1, err2)
			failed = err2 != nil
			continue
		}
		var out []string
		diff("", gd, od, &out)
		for _, l := range out {
			fmt.Printf("  %s/%s %s\n", c.t, c.class, l)
		}
		fmt.Printf("%s (%s): %d/%d leaves agree\n", c.t, c.class, agree-ta, leaves-tl)
	}
	fmt.Printf("TOTAL: %d/%d\n", agree, leaves)
	if failed {
		os.Exit(1)
	}
}
