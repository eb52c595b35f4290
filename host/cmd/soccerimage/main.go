// Command soccerimage builds the soccerpredict OCI image without a container
// engine (`make image`): the host, every plugin with its SHA-256 file, ONNX
// Runtime and the C libraries it and the onnx plugin link against, the
// production configuration and data contract, CA certificates, and a
// non-root user (uid 65532). It writes an OCI image layout (for skopeo,
// crane or `podman load`) and a docker-archive tarball (`docker load`).
//
// --describe prints what the image holds and how it runs, as JSON, without
// building anything: the chart's test checks its defaults against it.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"go.yaml.in/yaml/v3"
)

// How the image runs; the chart's containers rely on each of these.
const (
	UID        = 65532
	User       = "soccerpredict"
	Entrypoint = "/usr/local/bin/soccerpredict"
	Plugins    = "/opt/soccerpredict/plugins"
	Configs    = "/opt/soccerpredict/configs"
	ORTPath    = "/opt/soccerpredict/lib/libonnxruntime.so.1"
	DataDir    = "/var/lib/soccerpredict"
)

// file is one regular file of the image, from src on this machine.
type file struct {
	path, src string
	mode      int64
}

// Description is what --describe prints.
type Description struct {
	Image      string            `json:"image"`
	User       string            `json:"user"`
	UID        int               `json:"uid"`
	Entrypoint []string          `json:"entrypoint"`
	Cmd        []string          `json:"cmd"`
	Env        map[string]string `json:"env"`
	Ports      []string          `json:"ports"`
	Files      []string          `json:"files"`
	Dirs       []string          `json:"dirs"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soccerimage:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("soccerimage", flag.ContinueOnError)
	root := fs.String("root", ".", "the repository root (configs/, charts/)")
	bin := fs.String("bin", "bin/image", "directory with the binaries to put in the image (built with CGO_ENABLED=0 but for the onnx plugin)")
	ort := fs.String("ort", "onnxruntime/libonnxruntime.so.1", "the ONNX Runtime shared library")
	out := fs.String("out", "bin/image/oci", "write the OCI image layout here")
	tarPath := fs.String("tar", "bin/soccerpredict-image.tar", "write a docker-archive tarball here (empty: none)")
	ref := fs.String("ref", "", "image name (default: the chart's image.repository:image.tag)")
	version := fs.String("version", "dev", "the version label")
	describe := fs.Bool("describe", false, "print what the image holds and how it runs, as JSON, and build nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ref == "" {
		r, err := chartImage(*root)
		if err != nil {
			return err
		}
		*ref = r
	}
	files, err := plan(*root, *bin, *ort)
	if err != nil {
		return err
	}
	desc := Description{Image: *ref, User: User, UID: UID, Entrypoint: []string{Entrypoint}, Cmd: []string{"serve"},
		Env:   map[string]string{"SOCCERPREDICT_CONFIG": Configs + "/production.yaml", "PATH": "/usr/local/bin:/usr/bin:/bin"},
		Ports: []string{"8080/tcp", "8081/tcp"}, Dirs: []string{"/tmp", DataDir, "/etc/soccerpredict"}}
	for _, f := range files {
		desc.Files = append(desc.Files, f.path)
	}
	if *describe {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(desc)
	}
	libs, err := sharedLibraries(filepath.Join(*bin, "soccer-model-onnx"), *ort)
	if err != nil {
		return err
	}
	img, err := build(desc, files, libs, *version)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(*ref)
	if err != nil {
		return fmt.Errorf("image name %q: %w", *ref, err)
	}
	os.RemoveAll(*out)
	p, err := layout.Write(*out, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.String()})); err != nil {
		return err
	}
	if *tarPath != "" {
		if err := tarball.WriteToFile(*tarPath, tag, img); err != nil {
			return err
		}
	}
	digest, _ := img.Digest()
	size := 0
	for _, f := range append(files, libs...) {
		if st, err := os.Stat(f.src); err == nil {
			size += int(st.Size())
		}
	}
	fmt.Fprintf(stdout, "image %s %s: %d files (%d MB uncompressed), user %s (%d)\n  OCI layout: %s\n", tag, digest, len(files)+len(libs),
		size>>20, User, UID, *out)
	if *tarPath != "" {
		fmt.Fprintf(stdout, "  docker archive: %s (docker load -i %s)\n", *tarPath, *tarPath)
	}
	return nil
}

// chartImage is the chart's default image: what the image is named unless
// told otherwise, so the two cannot drift apart.
func chartImage(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "charts", "soccerpredict", "values.yaml"))
	if err != nil {
		return "", err
	}
	var v struct {
		Image struct{ Repository, Tag string }
	}
	if err := yaml.Unmarshal(b, &v); err != nil || v.Image.Repository == "" || v.Image.Tag == "" {
		return "", fmt.Errorf("charts/soccerpredict/values.yaml: no image.repository and image.tag (%v)", err)
	}
	return v.Image.Repository + ":" + v.Image.Tag, nil
}

// plan lists the image's files that come from the repository and the build.
func plan(root, bin, ort string) ([]file, error) {
	files := []file{
		{Entrypoint, filepath.Join(bin, "soccerpredict"), 0o755},
		{ORTPath, ort, 0o644},
		{Configs + "/production.yaml", filepath.Join(root, "configs", "production.yaml"), 0o644},
		{Configs + "/expectations/matches.json", filepath.Join(root, "configs", "expectations", "matches.json"), 0o644},
		{Configs + "/expectations/prices.json", filepath.Join(root, "configs", "expectations", "prices.json"), 0o644},
	}
	plugins, err := filepath.Glob(filepath.Join(root, "plugins", "*", "*", "cmd", "soccer-*"))
	if err != nil || len(plugins) == 0 {
		return nil, fmt.Errorf("no plugins under %s/plugins/*/*/cmd", root)
	}
	for _, p := range plugins {
		b := filepath.Base(p)
		files = append(files, file{Plugins + "/" + b, filepath.Join(bin, b), 0o755}, file{Plugins + "/" + b + ".sha256", filepath.Join(bin, b+".sha256"), 0o644})
	}
	return files, nil
}

// sharedLibraries are the C libraries the dynamically linked parts need
// (the onnx plugin and ONNX Runtime), with the program interpreter, as ldd
// resolves them on this machine.
func sharedLibraries(paths ...string) ([]file, error) {
	seen := map[string]bool{}
	var out []file
	for _, p := range paths {
		b, err := exec.Command("ldd", p).Output()
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %w", p, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			var lib string
			switch {
			case len(fields) >= 3 && fields[1] == "=>" && strings.HasPrefix(fields[2], "/"):
				lib = fields[2]
			case len(fields) >= 1 && strings.HasPrefix(fields[0], "/"):
				lib = fields[0] // the interpreter, /lib64/ld-linux-x86-64.so.2
			default:
				continue
			}
			if !seen[lib] {
				seen[lib] = true
				out = append(out, file{lib, lib, 0o755})
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("ldd found no libraries: is the onnx plugin built with cgo?")
	}
	return out, nil
}

// epoch is every file's and the image's time: the same inputs give the same
// image digest.
var epoch = time.Unix(0, 0).UTC()

// build assembles the image: a base layer (users, certificates, C
// libraries, directories), ONNX Runtime, then the application.
func build(d Description, files, libs []file, version string) (v1.Image, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", User, UID, UID, User, DataDir)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", User, UID)
	base := newLayer()
	base.dir("/tmp", 0o1777, 0)
	base.dir(DataDir, 0o755, UID)
	base.dir("/etc/soccerpredict", 0o755, 0)
	base.bytes("/etc/passwd", []byte(passwd), 0o644)
	base.bytes("/etc/group", []byte(group), 0o644)
	base.bytes("/etc/nsswitch.conf", []byte("passwd: files\ngroup: files\nhosts: files dns\n"), 0o644)
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		base.file(file{"/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt", 0o644})
	}
	for _, l := range libs {
		base.file(l)
	}
	runtime := newLayer()
	app := newLayer()
	for _, f := range files {
		if f.path == ORTPath {
			runtime.file(f)
		} else {
			app.file(f)
		}
	}
	var layers []v1.Layer
	for _, l := range []*layer{base, runtime, app} {
		built, err := l.build()
		if err != nil {
			return nil, err
		}
		layers = append(layers, built)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = "amd64", "linux", v1.Time{Time: epoch}
	cf.Config.User = fmt.Sprintf("%d:%d", UID, UID)
	cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.WorkingDir = d.Entrypoint, d.Cmd, DataDir
	cf.Config.Env = nil
	for _, k := range slices.Sorted(maps.Keys(d.Env)) {
		cf.Config.Env = append(cf.Config.Env, k+"="+d.Env[k])
	}
	cf.Config.ExposedPorts = map[string]struct{}{}
	for _, p := range d.Ports {
		cf.Config.ExposedPorts[p] = struct{}{}
	}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "soccerpredict",
		"org.opencontainers.image.description": "SoccerPredict host with its source, feature and model plugins and ONNX Runtime",
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.source":      "https://github.com/soccerpredict/soccerpredict",
	}
	return mutate.ConfigFile(img, cf)
}

// layer is a tar layer being written, every parent directory included.
type layer struct {
	entries map[string]*tar.Header
	content map[string][]byte
	err     error
}

func newLayer() *layer {
	return &layer{entries: map[string]*tar.Header{}, content: map[string][]byte{}}
}

func (l *layer) parents(p string) {
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		if _, ok := l.entries[d]; !ok {
			l.dir(d, 0o755, 0)
		}
	}
}

func (l *layer) dir(p string, mode int64, uid int) {
	l.parents(p)
	l.entries[p] = &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(p, "/") + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: epoch}
}

func (l *layer) bytes(p string, b []byte, mode int64) {
	l.parents(p)
	l.entries[p] = &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(p, "/"), Mode: mode, Size: int64(len(b)), ModTime: epoch}
	l.content[p] = b
}

func (l *layer) file(f file) {
	b, err := os.ReadFile(f.src) // follows symlinks: the image holds the file under the name asked for
	if err != nil {
		l.err = errors.Join(l.err, fmt.Errorf("%s (for %s): %w", f.src, f.path, err))
		return
	}
	l.bytes(f.path, b, f.mode)
}

func (l *layer) build() (v1.Layer, error) {
	if l.err != nil {
		return nil, l.err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(l.entries))
	for p := range l.entries {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		h := l.entries[p]
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if b, ok := l.content[p]; ok {
			if _, err := tw.Write(b); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}
