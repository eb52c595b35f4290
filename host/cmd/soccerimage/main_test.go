package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/soccerpredict/soccerpredict/host/internal/testbin"
)

// `make image` builds an image that holds the host, every plugin with its
// digest file, ONNX Runtime and the production config, runs as uid 65532,
// and works: extracted and entered with chroot as that user, `plugins
// verify` launches all three plugins and the onnx one loads ONNX Runtime
// from the image's libraries.
func TestImageHoldsTheBinariesAndRuns(t *testing.T) {
	// `make image` itself: static host and pure-Go plugins, the onnx plugin
	// with cgo, into bin/image and bin/soccerpredict-image.tar.
	root := testbin.Root()
	mk := exec.Command("make", "--no-print-directory", "image")
	mk.Dir = root
	built, err := mk.CombinedOutput()
	if err != nil {
		t.Fatalf("make image: %v\n%s", err, built)
	}
	out := bytes.NewBuffer(built)
	oci, archive := filepath.Join(root, "bin", "image", "oci"), filepath.Join(root, "bin", "soccerpredict-image.tar")
	ref, err := chartImage(testbin.Root())
	if err != nil || !strings.Contains(out.String(), "image "+ref+" sha256:") {
		t.Fatalf("built %q, chart image %q (%v)", out.String(), ref, err)
	}

	// The OCI layout: one image, named as the chart's default.
	p, err := layout.FromPath(oci)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != ref {
		t.Fatalf("index %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.User != "65532:65532" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != Entrypoint || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Fatalf("config %+v", cf.Config)
	}
	// The docker archive holds the same image.
	fromTar, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := digestOf(t, img), digestOf(t, fromTar); a != b {
		t.Fatalf("OCI layout %s and docker archive %s differ", a, b)
	}

	// The layers hold every binary, executable, and the data directory is the user's.
	headers := map[string]*tar.Header{}
	fs := mutate.Extract(img)
	defer fs.Close()
	rootfs := t.TempDir()
	tr := tar.NewReader(fs)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		headers["/"+strings.TrimSuffix(h.Name, "/")] = h
		target := filepath.Join(rootfs, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(target, 0o755)
			os.Chmod(target, os.FileMode(h.Mode)&os.ModePerm|sticky(h.Mode))
			os.Chown(target, h.Uid, h.Gid)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(target), 0o755)
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(f, tr)
			f.Close()
		}
	}
	for _, want := range []string{Entrypoint, Plugins + "/soccer-source-footballdata", Plugins + "/soccer-features-ratings", Plugins + "/soccer-model-onnx", Plugins + "/soccer-model-onnxgo", Plugins + "/soccer-model-goals"} {
		if h := headers[want]; h == nil || h.Mode&0o111 == 0 || h.Size < 1<<20 {
			t.Errorf("%s: %+v, want an executable binary", want, h)
		}
		if headers[want+".sha256"] == nil && want != Entrypoint {
			t.Errorf("%s has no .sha256 beside it", want)
		}
	}
	for _, want := range []string{ORTPath, Configs + "/production.yaml", Configs + "/expectations/matches.json", Configs + "/expectations/prices.json", "/etc/passwd", "/lib64/ld-linux-x86-64.so.2"} {
		if headers[want] == nil {
			t.Errorf("the image lacks %s", want)
		}
	}
	if h := headers[DataDir]; h == nil || h.Uid != UID {
		t.Errorf("%s: %+v, want it owned by %d", DataDir, h, UID)
	}

	// And it runs, as the image's user, with nothing from this machine.
	if os.Geteuid() != 0 {
		t.Fatal("this test enters the extracted image with chroot, which needs root (CI runs as root)")
	}
	cmd := exec.Command("chroot", "--userspec=65532:65532", rootfs, Entrypoint, "plugins", "verify",
		"--config", Configs+"/production.yaml", "--set", "store.driver=sqlite", "--set", "log.level=warn")
	cmd.Env = []string{"PATH=/usr/local/bin"}
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "onnx 1.0.0 on onnxruntime") || !strings.Contains(string(got), "on Dixon-Coles goals model") ||
		strings.Count(string(got), " ok: pid ") != 5 {
		t.Fatalf("plugins verify inside the image: %v\n%s", err, got)
	}
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// --describe names what the chart relies on, without building.
func TestDescribe(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--root", testbin.Root(), "--describe"}, &out); err != nil {
		t.Fatal(err)
	}
	var d Description
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.UID != UID || d.Entrypoint[0] != Entrypoint || !strings.HasPrefix(d.Image, "ghcr.io/soccerpredict/soccerpredict:") || len(d.Files) < 10 {
		t.Fatalf("%+v", d)
	}
}

func sticky(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}
