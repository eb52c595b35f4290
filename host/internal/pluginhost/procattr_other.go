//go:build !linux

package pluginhost

import "os/exec"

// dieWithHost relies on the sdk's parent watch where Pdeathsig does not exist.
func dieWithHost(*exec.Cmd) {}
