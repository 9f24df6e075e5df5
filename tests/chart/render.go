// render: a small `helm template` for CI, so the chart is rendered by the same
// engine Helm uses (Go text/template with the sprig functions) without a helm
// binary. Built from Debian's Go packages in GOPATH mode by tests/chart/run.sh.
//
//	render [--chart DIR] [--name NAME] [--namespace NS] [--kube-version 1.30.0]
//	       [-f values.yaml]... [--set a.b=c[,d=e]]... [--show-notes]
//
// What it mirrors from Helm 3, because a chart that passes here must pass there:
//   - values: the chart's values.yaml, then each -f file, then --set, merged
//     map by map; a null removes a key. Numbers from YAML files become float64
//     (Helm reads values through JSON), numbers from --set int64.
//   - .Values .Release .Chart .Capabilities .Template; missing keys print as
//     nothing ("missingkey=zero" and "<no value>" removed, as Helm does).
//   - sprig's functions minus env/expandenv, plus include, tpl, required, fail,
//     toYaml, fromYaml, toJson, fromJson and lookup (always an empty map, as
//     in `helm template`, unless --existing is given).
//   - --existing FILE: the objects already in the cluster (a previous render's
//     output), for lookup to find, as on `helm upgrade`; .Release.IsUpgrade is
//     then true. A lookup by name finds the object of that apiVersion, kind
//     and name (an object without metadata.namespace is in the release's).
//   - every templates/*.yaml|yml|tpl|txt file is parsed into one template set
//     (so define blocks are shared); files starting with "_" are only parsed,
//     and NOTES.txt is rendered (errors count) but printed only with
//     --show-notes, after the manifests.
//   - each output document must parse as YAML, as Helm checks before printing.
//
// Output: "---\n# Source: CHART/templates/FILE\n" + each document. On any
// error: "Error: ..." on stderr and exit status 1.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type chartMeta struct {
	Name, Version, AppVersion, Description, Type, APIVersion string
}

type kubeVersion struct{ Version, Major, Minor, GitVersion string }

// APIVersions.Has accepts "group/version" or "group/version/Kind", as Helm's.
type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v || strings.HasPrefix(v, x+"/") {
			return true
		}
	}
	return false
}

type capabilities struct {
	KubeVersion kubeVersion
	APIVersions apiVersions
}

func die(err error) {
	fmt.Fprintf(os.Stderr, "Error: %v\n", err)
	os.Exit(1)
}

// readYAML reads a values-like file. Helm parses values with sigs.k8s.io/yaml,
// which goes through JSON: a JSON round trip gives the same types (float64).
func readYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	out := map[string]interface{}{}
	if err := json.Unmarshal(js, &out); err != nil {
		return nil, fmt.Errorf("%s: not a map of values: %v", path, err)
	}
	return out, nil
}

// merge puts src over dst: maps merge key by key, anything else replaces,
// and a null deletes (Helm's way to drop a chart default).
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = merge(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// --set a.b=c: typed like Helm's strvals (int64, bool, null, else string);
// several pairs may be joined with commas (a "\," is a literal comma). List
// indexes (a[0]=x) are not supported: the chart's tests do not need them.
func parseSet(s string, into map[string]interface{}) error {
	var pairs []string
	cur := ""
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == ',' {
			cur += ","
			i++
		} else if s[i] == ',' {
			pairs = append(pairs, cur)
			cur = ""
		} else {
			cur += string(s[i])
		}
	}
	pairs = append(pairs, cur)
	for _, p := range pairs {
		eq := strings.IndexByte(p, '=')
		if eq <= 0 || strings.ContainsAny(p[:eq], "[]") {
			return fmt.Errorf("--set %q: expected key.path=value", p)
		}
		keys := strings.Split(p[:eq], ".")
		raw := p[eq+1:]
		var val interface{} = raw
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil && raw == strconv.FormatInt(n, 10) {
			val = n
		} else if raw == "true" || raw == "false" {
			val = raw == "true"
		} else if raw == "null" {
			val = nil
		}
		m := into
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]interface{})
			if !ok {
				next = map[string]interface{}{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = val
	}
	return nil
}

// toYaml as Helm's: through JSON (so numbers print as numbers, keys sorted),
// two-space indent, no trailing newline; "" when it cannot be encoded.
func toYAML(v interface{}) string {
	js, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var generic interface{}
	if err := yaml.Unmarshal(js, &generic); err != nil {
		return ""
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(generic); err != nil {
		return ""
	}
	enc.Close()
	return strings.TrimSuffix(buf.String(), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// readObjects reads the documents of a multi-document YAML file ("" for none)
// through JSON, as Helm's lookup hands objects to templates.
func readObjects(file string) ([]map[string]interface{}, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var objs []map[string]interface{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc interface{}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if doc == nil {
			continue
		}
		js, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		o := map[string]interface{}{}
		if err := json.Unmarshal(js, &o); err != nil {
			return nil, fmt.Errorf("%s: a document is not an object", file)
		}
		objs = append(objs, o)
	}
}

type multi []string

func (m *multi) add(v string) { *m = append(*m, v) }

func main() {
	chartDir := "chart"
	name, namespace, kube := "release", "default", "1.30.0"
	var files, sets multi
	showNotes := false
	existingFile := ""
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 >= len(args) {
				die(fmt.Errorf("%s needs a value", a))
			}
			i++
			return args[i]
		}
		switch a {
		case "--chart":
			chartDir = next()
		case "--name":
			name = next()
		case "--namespace", "-n":
			namespace = next()
		case "--kube-version":
			kube = strings.TrimPrefix(next(), "v")
		case "-f", "--values":
			files.add(next())
		case "--set":
			sets.add(next())
		case "--show-notes":
			showNotes = true
		case "--existing":
			existingFile = next()
		default:
			die(fmt.Errorf("unknown argument %q", a))
		}
	}

	meta, err := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		die(err)
	}
	str := func(k string) string { s, _ := meta[k].(string); return s }
	chart := chartMeta{Name: str("name"), Version: str("version"), AppVersion: str("appVersion"),
		Description: str("description"), Type: str("type"), APIVersion: str("apiVersion")}
	if chart.Name == "" || chart.Version == "" {
		die(errors.New("Chart.yaml: name and version are required"))
	}

	values, err := readYAML(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		die(err)
	}
	for _, f := range files {
		v, err := readYAML(f)
		if err != nil {
			die(err)
		}
		values = merge(values, v)
	}
	setVals := map[string]interface{}{}
	for _, s := range sets {
		if err := parseSet(s, setVals); err != nil {
			die(err)
		}
	}
	values = merge(values, setVals)

	kv := strings.SplitN(kube, ".", 3)
	if len(kv) < 2 {
		die(fmt.Errorf("--kube-version %q: expected 1.30.0", kube))
	}
	caps := capabilities{
		KubeVersion: kubeVersion{Version: "v" + kube, Major: kv[0], Minor: kv[1], GitVersion: "v" + kube},
		APIVersions: apiVersions{"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1",
			"autoscaling/v2", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
			"storage.k8s.io/v1", "apiextensions.k8s.io/v1"},
	}
	existing, err := readObjects(existingFile)
	if err != nil {
		die(err)
	}
	release := map[string]interface{}{"Name": name, "Namespace": namespace, "Service": "Helm",
		"IsInstall": existingFile == "", "IsUpgrade": existingFile != "", "Revision": 1}

	// One template set holds every file, so include can reach any define.
	root := template.New("root")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	depth := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > 100 {
			return "", fmt.Errorf("include %q: too deep (a recursive define?)", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf strings.Builder
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if s, ok := v.(string); v == nil || (ok && s == "") {
			return v, errors.New(msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["lookup"] = func(apiVersion, kind, ns, name string) (map[string]interface{}, error) {
		for _, o := range existing {
			meta, _ := o["metadata"].(map[string]interface{})
			ons, _ := meta["namespace"].(string)
			if ons == "" {
				ons = namespace
			}
			if o["apiVersion"] == apiVersion && o["kind"] == kind && meta["name"] == name && ons == ns {
				return o, nil
			}
		}
		return map[string]interface{}{}, nil
	}
	root.Funcs(funcs).Option("missingkey=zero")

	tdir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(tdir)
	if err != nil {
		die(err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		ext := filepath.Ext(n)
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".tpl" && ext != ".txt") {
			continue
		}
		text, err := os.ReadFile(filepath.Join(tdir, n))
		if err != nil {
			die(err)
		}
		full := chart.Name + "/templates/" + n
		if _, err := root.New(full).Parse(string(text)); err != nil {
			die(err)
		}
		names = append(names, n)
	}
	sort.Strings(names)

	docSep := regexp.MustCompile(`(?m)^---[ \t]*$`)
	var out, notes strings.Builder
	for _, n := range names {
		if strings.HasPrefix(n, "_") {
			continue
		}
		full := chart.Name + "/templates/" + n
		data := map[string]interface{}{
			"Values": values, "Release": release, "Chart": chart, "Capabilities": caps,
			"Template": map[string]interface{}{"Name": full, "BasePath": chart.Name + "/templates"},
		}
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, full, data); err != nil {
			die(err)
		}
		if n == "NOTES.txt" {
			notes.WriteString(strings.ReplaceAll(buf.String(), "<no value>", ""))
			continue
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		for _, doc := range docSep.Split(text, -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var probe interface{}
			if err := yaml.Unmarshal([]byte(doc), &probe); err != nil {
				die(fmt.Errorf("YAML parse error on %s: %v", full, err))
			}
			if probe == nil { // only comments
				continue
			}
			out.WriteString("---\n# Source: " + full + "\n" + strings.TrimLeft(doc, "\n"))
			if !strings.HasSuffix(doc, "\n") {
				out.WriteString("\n")
			}
		}
	}
	if showNotes {
		out.WriteString("\nNOTES:\n" + notes.String() + "\n")
	}
	os.Stdout.WriteString(out.String())
}
