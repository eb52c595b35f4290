package loadtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/PID/stat's CPU times.
const clockTick = 10 * time.Millisecond

type procStat struct {
	pid, ppid int
	cpu       time.Duration
}

// readStat parses /proc/PID/stat (the command name may hold spaces and
// parentheses, so fields are counted from the last ')').
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return procStat{pid: pid, ppid: ppid, cpu: time.Duration(utime+stime) * clockTick}, true
}

// tree is pid and every process descended from it.
func tree(pid int) []procStat {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	children := map[int][]procStat{}
	var root procStat
	found := false
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		st, ok := readStat(p)
		if !ok {
			continue
		}
		if p == pid {
			root, found = st, true
		}
		children[st.ppid] = append(children[st.ppid], st)
	}
	if !found {
		return nil
	}
	out := []procStat{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].pid]...)
	}
	return out
}

// treeCPU is the CPU time used so far by pid and its descendants.
func treeCPU(pid int) time.Duration {
	var total time.Duration
	for _, p := range tree(pid) {
		total += p.cpu
	}
	return total
}

// treeRSS is pid's resident memory and its descendants' together.
func treeRSS(pid int) (self, descendants int64) {
	for i, p := range tree(pid) {
		rss := vmRSS(p.pid)
		if i == 0 {
			self = rss
		} else {
			descendants += rss
		}
	}
	return self, descendants
}

func vmRSS(pid int) int64 { return statusBytes(pid, "VmRSS:") }

// vmHWM is a process's peak resident memory so far.
func vmHWM(pid int) int64 { return statusBytes(pid, "VmHWM:") }

// statusBytes reads one "Key:   N kB" line of /proc/PID/status, in bytes.
func statusBytes(pid int, key string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func hostname() (string, error) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return os.Hostname()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")), nil
		}
	}
	return os.Hostname()
}
