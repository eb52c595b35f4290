package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rabbitCluster is three RabbitMQ nodes on this machine (their own ports,
// data and logs under dir), clustered; the host is given all three URLs.
type rabbitCluster struct {
	dir   string
	nodes []*rabbitNode
}

type rabbitNode struct {
	name       string // rabbit-faults-N@localhost
	port, dist int
	pidFile    string
	env        []string
	cmd        *exec.Cmd
}

func (n *rabbitNode) amqpURL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", n.port) }

func freePort() (int, error) {
	a, err := freeAddr()
	if err != nil {
		return 0, err
	}
	_, p, _ := net.SplitHostPort(a)
	var port int
	fmt.Sscan(p, &port)
	return port, nil
}

// startRabbitCluster boots three nodes and joins the second and third to
// the first.
func startRabbitCluster(ctx context.Context, dir string) (_ *rabbitCluster, err error) {
	if _, err := exec.LookPath("rabbitmq-server"); err != nil {
		return nil, fmt.Errorf("rabbitmq-server is needed for the cluster scenario (apt-get install rabbitmq-server): %w", err)
	}
	c := &rabbitCluster{dir: dir}
	defer func() {
		if err != nil {
			c.stopRabbit()
		}
	}()
	// Debian's rabbitmq-server and rabbitmqctl run as the rabbitmq user
	// (when started as root): the nodes' directories must be theirs.
	owner := func(string) {}
	if u, err := user.Lookup("rabbitmq"); err == nil && os.Geteuid() == 0 {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		owner = func(path string) { os.Chown(path, uid, gid) }
		for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o005 != 0o005 {
				os.Chmod(d, st.Mode().Perm()|0o005) // let it through to dir
			}
		}
	}
	owner(dir)
	plugins := filepath.Join(dir, "enabled_plugins")
	os.WriteFile(plugins, []byte("[].\n"), 0o644) // no management or Prometheus listeners to clash
	for i := range 3 {
		n := &rabbitNode{name: fmt.Sprintf("rabbit-faults-%d-%d@localhost", os.Getpid(), i+1)}
		if n.port, err = freePort(); err != nil {
			return c, err
		}
		if n.dist, err = freePort(); err != nil {
			return c, err
		}
		base := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
		os.MkdirAll(base, 0o755)
		owner(base)
		n.pidFile = filepath.Join(base, "pid")
		conf := filepath.Join(base, "rabbitmq.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf("listeners.tcp.local = 127.0.0.1:%d\nloopback_users = none\n", n.port)), 0o644)
		n.env = append(os.Environ(), "RABBITMQ_NODENAME="+n.name, fmt.Sprintf("RABBITMQ_DIST_PORT=%d", n.dist),
			"RABBITMQ_MNESIA_BASE="+filepath.Join(base, "mnesia"), "RABBITMQ_LOG_BASE="+filepath.Join(base, "log"),
			"RABBITMQ_PID_FILE="+n.pidFile, "RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
			"RABBITMQ_CONFIG_FILE="+strings.TrimSuffix(conf, ".conf"), "RABBITMQ_CONF_ENV_FILE="+filepath.Join(base, "env.conf"),
			"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(base, "advanced.config"))
		c.nodes = append(c.nodes, n)
		if err := c.startNode(ctx, n); err != nil {
			return c, err
		}
	}
	for _, n := range c.nodes[1:] {
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", c.nodes[0].name}, {"start_app"}} {
			if err := c.ctl(ctx, n, args...); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

func (c *rabbitCluster) startNode(ctx context.Context, n *rabbitNode) error {
	n.cmd = exec.CommandContext(ctx, "rabbitmq-server")
	n.cmd.Env = n.env
	n.cmd.Stdout, n.cmd.Stderr = io.Discard, io.Discard
	if err := start(n.cmd); err != nil {
		return err
	}
	var err error
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		cmd := exec.CommandContext(ctx, "rabbitmq-diagnostics", "-q", "-n", n.name, "check_running")
		cmd.Env = n.env
		if err = cmd.Run(); err == nil {
			return nil
		}
	}
	return fmt.Errorf("RabbitMQ node %s did not start within 2 minutes (logs in %s): %v", n.name, c.dir, err)
}

// ctl runs rabbitmqctl against node n.
func (c *rabbitCluster) ctl(ctx context.Context, n *rabbitNode, args ...string) error {
	cmd := exec.CommandContext(ctx, "rabbitmqctl", append([]string{"-n", n.name}, args...)...)
	cmd.Env = n.env
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rabbitmqctl -n %s %s: %v\n%s", n.name, strings.Join(args, " "), err, b)
	}
	return nil
}

func (c *rabbitCluster) urls() string {
	var us []string
	for _, n := range c.nodes {
		us = append(us, n.amqpURL())
	}
	return strings.Join(us, ",")
}

// leader is the node that leads queue name, asked of any running node.
func (c *rabbitCluster) leader(ctx context.Context, name string) *rabbitNode {
	for _, n := range c.nodes {
		if n.cmd == nil {
			continue
		}
		cmd := exec.CommandContext(ctx, "rabbitmqctl", "-n", n.name, "list_queues", "name", "leader", "--formatter", "json")
		cmd.Env = n.env
		b, err := cmd.Output()
		if err != nil {
			continue
		}
		var qs []struct{ Name, Leader string }
		if json.Unmarshal(b, &qs) != nil {
			continue
		}
		for _, q := range qs {
			for _, m := range c.nodes {
				if q.Name == name && q.Leader == m.name {
					return m
				}
			}
		}
	}
	return nil
}

// kill ends node n at once, as a crash would: its Erlang VM (whose PID the
// node writes to its pid file; Debian's wrapper runs it as another user,
// outside the wrapper's process group) and the wrapper.
func (n *rabbitNode) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	if b, err := os.ReadFile(n.pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	os.Remove(n.pidFile)
	n.cmd = nil
}

func (c *rabbitCluster) stopRabbit() {
	for _, n := range c.nodes {
		n.kill()
	}
}

// rabbitNodeLoss runs the host's cluster on three RabbitMQ nodes, kills the
// job queue's leader, ten seconds later a second node (the quorum is lost:
// nothing can be published or delivered), and after another ten seconds
// brings both back.
func (c *clusterEnv) rabbitNodeLoss(ctx context.Context, rc *rabbitCluster) (Fault, error) {
	return c.clusterScenario(ctx, func() string {
		leader := rc.leader(ctx, c.queueName)
		if leader == nil {
			return "no leader found for the job queue: FAILED"
		}
		var second *rabbitNode
		for _, n := range rc.nodes {
			if n != leader {
				second = n
				break
			}
		}
		leader.kill()
		time.Sleep(10 * time.Second)
		newLeader := rc.leader(ctx, c.queueName)
		second.kill()
		time.Sleep(10 * time.Second)
		var notes []string
		for _, n := range []*rabbitNode{leader, second} {
			if err := rc.startNode(ctx, n); err != nil {
				notes = append(notes, "restart FAILED: "+err.Error())
			}
		}
		moved := "none"
		if newLeader != nil {
			moved = newLeader.name
		}
		notes = append(notes, fmt.Sprintf("leader %s killed (leadership moved to %s), 10 s later %s (quorum lost for 10 s), both restarted",
			short(leader.name), short(moved), short(second.name)))
		return strings.Join(notes, "; ")
	})
}

// short is "node 2" for rabbit-faults-PID-2@localhost.
func short(node string) string {
	name, _, _ := strings.Cut(node, "@")
	if i := strings.LastIndex(name, "-"); i >= 0 {
		return "node " + name[i+1:]
	}
	return node
}
