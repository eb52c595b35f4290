package charts

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

// render renders the chart with values layered over values.yaml (schema
// checked) and returns every manifest by kind and name.
func render(t *testing.T, overrides map[string]any) (map[string]map[string][]byte, error) {
	t.Helper()
	chrt, err := loader.Load("soccerpredict")
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ToRenderValues(chrt, overrides, chartutil.ReleaseOptions{Name: "sp", Namespace: "prod", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string][]byte{}
	for name, body := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(body, "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var u unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", name, err, doc)
			}
			if u.GetKind() == "" {
				continue
			}
			if out[u.GetKind()] == nil {
				out[u.GetKind()] = map[string][]byte{}
			}
			out[u.GetKind()][u.GetName()] = []byte(doc)
		}
	}
	return out, nil
}

func strict[T any](t *testing.T, doc []byte) T {
	t.Helper()
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		t.Fatalf("strict decode into %T: %v\n%s", v, err, doc)
	}
	return v
}

func TestDefaultRenderDecodesStrictly(t *testing.T) {
	m, err := render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := strict[appsv1.Deployment](t, m["Deployment"]["sp-soccerpredict-api"])
	c := api.Spec.Template.Spec.Containers[0]
	if api.Spec.Replicas != nil {
		t.Error("the api Deployment sets replicas while the HPA owns them")
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" || strings.Join(c.Args, " ") != "serve --addr :8080 --grpc-addr :8081" {
		t.Errorf("api container %+v", c)
	}
	if c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem || !*c.SecurityContext.RunAsNonRoot {
		t.Error("the api container is not locked down")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["SOCCERPREDICT_STORE__DSN"].ValueFrom.SecretKeyRef.Name != "soccerpredict-postgres" || env["SOCCERPREDICT_QUEUE__URL"].ValueFrom == nil {
		t.Errorf("secrets not wired: %+v", env)
	}
	if !strings.Contains(env["SOCCERPREDICT_CONFIG"].Value, "production.yaml") {
		t.Errorf("SOCCERPREDICT_CONFIG = %q", env["SOCCERPREDICT_CONFIG"].Value)
	}

	hpa := strict[autoscalingv2.HorizontalPodAutoscaler](t, m["HorizontalPodAutoscaler"]["sp-soccerpredict-api"])
	if hpa.Spec.ScaleTargetRef.Name != "sp-soccerpredict-api" || *hpa.Spec.MinReplicas != 2 || hpa.Spec.MaxReplicas != 10 {
		t.Errorf("hpa %+v", hpa.Spec)
	}
	for _, name := range []string{"sp-soccerpredict-api", "sp-soccerpredict-worker"} {
		pdb := strict[policyv1.PodDisruptionBudget](t, m["PodDisruptionBudget"][name])
		if pdb.Spec.MinAvailable != nil || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("%s: minAvailable %v, maxUnavailable %v; want maxUnavailable 1 (a drain can always evict)", name, pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
		}
	}
	sa := strict[corev1.ServiceAccount](t, m["ServiceAccount"]["sp-soccerpredict"])
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the service account mounts an API token the host never uses")
	}
	worker := strict[appsv1.Deployment](t, m["Deployment"]["sp-soccerpredict-worker"])
	if worker.Spec.Template.Spec.Containers[0].Args[0] != "worker" || *worker.Spec.Replicas != 2 {
		t.Errorf("worker %+v", worker.Spec)
	}
	svc := strict[corev1.Service](t, m["Service"]["sp-soccerpredict-api"])
	grpcPort := false
	for _, p := range svc.Spec.Ports {
		grpcPort = grpcPort || p.Name == "grpc" && p.Port == 8081 && p.AppProtocol != nil && *p.AppProtocol == "grpc"
	}
	if !grpcPort {
		t.Errorf("the api Service has no grpc port 8081: %+v", svc.Spec.Ports)
	}
	cm := strict[corev1.ConfigMap](t, m["ConfigMap"]["sp-soccerpredict-config"])
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["values.yaml"]), &cfg); err != nil || cfg["auth"].(map[string]any)["required"] != true {
		t.Errorf("config map values.yaml = %q (%v)", cm.Data["values.yaml"], err)
	}
	for name, args := range map[string]string{"sp-soccerpredict-ingest": "ingest", "sp-soccerpredict-train": "models train"} {
		cj := strict[batchv1.CronJob](t, m["CronJob"][name])
		if got := strings.Join(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, " "); got != args || cj.Spec.Schedule == "" {
			t.Errorf("%s runs %q on %q", name, got, cj.Spec.Schedule)
		}
		if r := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Resources; r.Requests.Cpu().IsZero() || r.Limits.Memory().IsZero() {
			t.Errorf("%s has no resource requests or limits: %+v", name, r)
		}
	}
	if m["ScaledObject"] != nil {
		t.Error("a KEDA ScaledObject rendered although keda is off")
	}
}

func TestKEDAAndPinnedDigests(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	m, err := render(t, map[string]any{
		"worker":        map[string]any{"keda": map[string]any{"enabled": true}},
		"api":           map[string]any{"autoscaling": map[string]any{"enabled": false}},
		"pluginDigests": map[string]any{"onnx": digest},
		"secrets":       map[string]any{"webhooks": map[string]any{"name": "hooks", "key": "secret"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var so unstructured.Unstructured
	if err := yaml.Unmarshal(m["ScaledObject"]["sp-soccerpredict-worker"], &so.Object); err != nil || so.GetAPIVersion() != "keda.sh/v1alpha1" {
		t.Fatalf("ScaledObject %v: %v", so.Object, err)
	}
	worker := strict[appsv1.Deployment](t, m["Deployment"]["sp-soccerpredict-worker"])
	if worker.Spec.Replicas != nil {
		t.Error("the worker Deployment sets replicas while KEDA owns them")
	}
	api := strict[appsv1.Deployment](t, m["Deployment"]["sp-soccerpredict-api"])
	if api.Spec.Replicas == nil || *api.Spec.Replicas != 2 || m["HorizontalPodAutoscaler"] != nil {
		t.Error("without autoscaling the api Deployment needs its replicas and no HPA")
	}
	found, signing := false, false
	for _, e := range api.Spec.Template.Spec.Containers[0].Env {
		found = found || (e.Name == "SOCCERPREDICT_PLUGINS__ONNX__SHA256" && e.Value == digest)
		signing = signing || (e.Name == "SOCCERPREDICT_WEBHOOKS__SECRET" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef.Name == "hooks")
	}
	if !found {
		t.Error("the pinned onnx digest is not passed to the host")
	}
	if !signing {
		t.Error("the webhook secret is not passed to the host")
	}
}

// Every workload the chart renders, in every mode, passes the "restricted"
// Pod Security Standard as Kubernetes' own admission library checks it.
func TestRestrictedPodSecurity(t *testing.T) {
	evaluator, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for mode, vals := range map[string]map[string]any{
		"default": nil,
		"keda":    {"worker": map[string]any{"keda": map[string]any{"enabled": true}}, "api": map[string]any{"autoscaling": map[string]any{"enabled": false}}},
	} {
		m, err := render(t, vals)
		if err != nil {
			t.Fatal(err)
		}
		pods := map[string]corev1.PodTemplateSpec{}
		for name, doc := range m["Deployment"] {
			pods["Deployment "+name] = strict[appsv1.Deployment](t, doc).Spec.Template
		}
		for name, doc := range m["CronJob"] {
			pods["CronJob "+name] = strict[batchv1.CronJob](t, doc).Spec.JobTemplate.Spec.Template
		}
		for name, doc := range m["Pod"] {
			p := strict[corev1.Pod](t, doc)
			pods["Pod "+name] = corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}
		}
		if len(pods) < 5 {
			t.Fatalf("%s: only %d workloads rendered", mode, len(pods))
		}
		for name, pod := range pods {
			for _, r := range evaluator.EvaluatePod(restricted, &pod.ObjectMeta, &pod.Spec) {
				if !r.Allowed {
					t.Errorf("%s: %s is refused under the restricted policy: %s: %s", mode, name, r.ForbiddenReason, r.ForbiddenDetail)
				}
			}
			if !strings.HasPrefix(name, "Pod ") {
				checkWritableTmp(t, mode+": "+name, pod.Spec)
			}
		}
	}
}

func TestValuesSchemaRefusesBadValues(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"an unknown key":        {"api": map[string]any{"replica": 3}},
		"an unknown top key":    {"workers": map[string]any{"replicas": 3}},
		"a PDB blocking drains": {"worker": map[string]any{"podDisruptionBudget": map[string]any{"maxUnavailable": 0}}},
		"replicas as text":      {"api": map[string]any{"replicas": "two"}},
		"a digest too short":    {"pluginDigests": map[string]any{"onnx": "abc"}},
		"a bad schedule":        {"ingest": map[string]any{"schedule": "daily"}},
		"no secret name":        {"secrets": map[string]any{"postgres": map[string]any{"name": ""}}},
	} {
		if _, err := render(t, vals); err == nil {
			t.Errorf("%s: rendered without complaint", name)
		}
	}
}

// imageDescription is what `soccerimage --describe` (the builder behind
// `make image`) says the image holds and how it runs.
type imageDescription struct {
	Image      string   `json:"image"`
	UID        int64    `json:"uid"`
	Entrypoint []string `json:"entrypoint"`
	Files      []string `json:"files"`
	Dirs       []string `json:"dirs"`
}

// The chart runs the image `make image` builds: its default image is that
// image's name, no container overrides the image's entrypoint (the host),
// the user is the image's, and every path the containers and the
// production config name is in the image and not hidden by a volume.
func TestChartRunsTheImageMakeImageBuilds(t *testing.T) {
	cmd := exec.Command("go", "run", "./cmd/soccerimage", "--root", "..", "--describe")
	cmd.Dir = filepath.Join("..", "host")
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("soccerimage --describe: %v", err)
	}
	var img imageDescription
	if err := json.Unmarshal(raw, &img); err != nil {
		t.Fatal(err)
	}
	inImage := map[string]bool{}
	for _, f := range append(img.Files, img.Dirs...) {
		inImage[f] = true
	}
	m, err := render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	var containers []corev1.Container
	var volumes [][]corev1.Volume
	for _, name := range []string{"sp-soccerpredict-api", "sp-soccerpredict-worker"} {
		d := strict[appsv1.Deployment](t, m["Deployment"][name])
		containers = append(containers, d.Spec.Template.Spec.Containers...)
		volumes = append(volumes, d.Spec.Template.Spec.Volumes)
	}
	for _, name := range []string{"sp-soccerpredict-ingest", "sp-soccerpredict-train"} {
		cj := strict[batchv1.CronJob](t, m["CronJob"][name])
		containers = append(containers, cj.Spec.JobTemplate.Spec.Template.Spec.Containers...)
	}
	prod, err := os.ReadFile(filepath.Join("..", "configs", "production.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, line := range strings.Split(string(prod), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && (k == "path" || k == "sha256_file" || k == "library" || k == "expectations") {
			paths = append(paths, strings.Fields(v)[0])
		}
	}
	if len(paths) < 7 {
		t.Fatalf("found only %v in configs/production.yaml", paths)
	}
	for _, c := range containers {
		if c.Image != img.Image {
			t.Errorf("%s runs %q, make image builds %q", c.Name, c.Image, img.Image)
		}
		if len(c.Command) > 0 {
			t.Errorf("%s overrides the image's entrypoint %v with %v", c.Name, img.Entrypoint, c.Command)
		}
		if c.SecurityContext == nil || c.SecurityContext.RunAsUser == nil || *c.SecurityContext.RunAsUser != img.UID {
			t.Errorf("%s does not run as the image's user %d", c.Name, img.UID)
		}
		mounted := func(p string) bool {
			for _, vm := range c.VolumeMounts {
				if p == vm.MountPath || strings.HasPrefix(p, vm.MountPath+"/") {
					return true
				}
			}
			return false
		}
		for _, e := range c.Env {
			if e.Name != "SOCCERPREDICT_CONFIG" {
				continue
			}
			for _, f := range strings.Split(e.Value, ",") {
				if !inImage[f] && !mounted(f) {
					t.Errorf("%s reads config %s, which is neither in the image nor mounted", c.Name, f)
				}
			}
		}
		for _, p := range paths {
			if !inImage[p] {
				t.Errorf("configs/production.yaml names %s, which the image does not hold", p)
			} else if mounted(p) {
				t.Errorf("configs/production.yaml names %s, which %s's volume mounts hide", p, c.Name)
			}
		}
	}
	if len(containers) != 4 || len(volumes) != 2 {
		t.Fatalf("containers %d", len(containers))
	}
}

// `helm test` runs a pod asking the API Service whether it is ready.
func TestHelmTestHook(t *testing.T) {
	m, err := render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := strict[corev1.Pod](t, m["Pod"]["sp-soccerpredict-test-ready"])
	if p.Annotations["helm.sh/hook"] != "test" || p.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatalf("test pod %+v", p.ObjectMeta)
	}
	if got := strings.Join(p.Spec.Containers[0].Args, " "); got != "ready --server http://sp-soccerpredict-api:80 --timeout 10s" {
		t.Errorf("test pod runs %q", got)
	}
}

// NOTES.txt (what helm install prints) renders, with and without keys.
func TestNotesRender(t *testing.T) {
	chrt, err := loader.Load("soccerpredict")
	if err != nil {
		t.Fatal(err)
	}
	for _, over := range []map[string]any{nil, {"config": map[string]any{"auth": map[string]any{"required": false}}}} {
		vals, err := chartutil.ToRenderValues(chrt, over, chartutil.ReleaseOptions{Name: "sp", Namespace: "prod", IsInstall: true}, chartutil.DefaultCapabilities)
		if err != nil {
			t.Fatal(err)
		}
		files, err := engine.Render(chrt, vals)
		if err != nil {
			t.Fatal(err)
		}
		notes := files["soccerpredict/templates/NOTES.txt"]
		if !strings.Contains(notes, "port-forward svc/sp-soccerpredict-api") || strings.Contains(notes, "<no value>") {
			t.Fatalf("NOTES.txt with %v:\n%s", over, notes)
		}
		if keys := strings.Contains(notes, "keys create"); keys != (over == nil) {
			t.Errorf("NOTES.txt with %v mentions making a key: %v", over, keys)
		}
	}
}

// With monitoring.serviceMonitor and networkPolicy on, the chart renders a
// ServiceMonitor for the API, a PodMonitor for the workers (on the port
// their metrics are served) and NetworkPolicies admitting only the served
// ports; all decode strictly into their API types.
func TestServiceMonitorAndNetworkPolicy(t *testing.T) {
	m, err := render(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m["ServiceMonitor"] != nil || m["NetworkPolicy"] != nil {
		t.Fatal("ServiceMonitor or NetworkPolicy rendered while off")
	}
	m, err = render(t, map[string]any{
		"monitoring":    map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}},
		"networkPolicy": map[string]any{"enabled": true, "apiFrom": []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"ingress": "yes"}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sm := strict[monitoringv1.ServiceMonitor](t, m["ServiceMonitor"]["sp-soccerpredict-api"])
	if sm.Labels["release"] != "prom" || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor %+v", sm)
	}
	pm := strict[monitoringv1.PodMonitor](t, m["PodMonitor"]["sp-soccerpredict-worker"])
	worker := strict[appsv1.Deployment](t, m["Deployment"]["sp-soccerpredict-worker"])
	named := false
	for _, p := range worker.Spec.Template.Spec.Containers[0].Ports {
		named = named || (pm.Spec.PodMetricsEndpoints[0].Port != nil && p.Name == *pm.Spec.PodMetricsEndpoints[0].Port)
	}
	if !named {
		t.Errorf("the PodMonitor's port %v is not a port of the worker", pm.Spec.PodMetricsEndpoints[0].Port)
	}
	api := strict[networkingv1.NetworkPolicy](t, m["NetworkPolicy"]["sp-soccerpredict-api"])
	if len(api.Spec.Ingress) != 1 || len(api.Spec.Ingress[0].Ports) != 2 || len(api.Spec.Ingress[0].From) != 1 {
		t.Errorf("api NetworkPolicy %+v", api.Spec)
	}
	jobs := strict[networkingv1.NetworkPolicy](t, m["NetworkPolicy"]["sp-soccerpredict-jobs"])
	if len(jobs.Spec.Ingress) != 0 || len(jobs.Spec.PolicyTypes) != 1 {
		t.Errorf("jobs NetworkPolicy %+v", jobs.Spec)
	}
	strict[networkingv1.NetworkPolicy](t, m["NetworkPolicy"]["sp-soccerpredict-worker"])
}

// checkWritableTmp: a host container's root file system is read-only, so
// /tmp, where go-plugin and the plugins' fast path put their sockets and
// shared answer regions, must be a volume of its own in memory.
func checkWritableTmp(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, c := range spec.Containers {
		tmp := ""
		for _, m := range c.VolumeMounts {
			if m.MountPath == "/tmp" && !m.ReadOnly {
				tmp = m.Name
			}
		}
		if v, ok := volumes[tmp]; !ok || v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
			t.Errorf("%s: container %s has no writable /tmp in memory (mount %q)", name, c.Name, tmp)
		}
	}
}
