package pluginhost

import (
	"os/exec"
	"syscall"
)

// dieWithHost asks the kernel to kill the plugin when the host exits, even by
// SIGKILL, so no plugin outlives its host.
func dieWithHost(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
