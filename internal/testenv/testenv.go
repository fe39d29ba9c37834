// Package testenv starts the real local parts the tests run against:
// Azurite for Table Storage and MailDev as the SMTP catcher. Both come from
// npm into tools/node_modules (make tools). A missing tool fails the test;
// it never skips it, so a green suite always means the real parts ran.
//
// Each test binary starts at most one process of each kind, on a free port,
// in memory, and the process dies with the test binary (Pdeathsig). Tests
// isolate themselves by table prefix (see TablePrefix), so they can run in
// parallel against the one emulator.
package testenv

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoRoot returns the module root (the folder with go.mod), found by
// walking up from the working directory. It fails the test when there is none.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("testenv: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// toolPath returns the path of an npm-installed tool, or an error naming
// the command that installs it.
func toolPath(tb testing.TB, name string) (string, error) {
	tb.Helper()
	p := filepath.Join(RepoRoot(tb), "tools", "node_modules", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not installed (%v); run `make tools` (make test does it for you)", name, err)
	}
	return p, nil
}

// FreePort asks the kernel for a free TCP port on the loopback interface.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is one started tool with the ports it listens on.
type process struct {
	ports []int
	err   error
}

// startTool runs a tool whose ports are chosen by pick, waits until every
// port accepts connections, and retries with new ports when another process
// took one in between (a rare race between FreePort and the tool binding it).
func startTool(tb testing.TB, name string, pick func() ([]int, []string)) process {
	tb.Helper()
	bin, err := toolPath(tb, name)
	if err != nil {
		// Recorded, not fatal here: every later caller must fail the same way.
		return process{err: err}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, args := pick()
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return process{err: err}
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return process{err: fmt.Errorf("start %s: %w", name, err)}
		}
		var logTail strings.Builder
		var logMu sync.Mutex
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				logMu.Lock()
				if logTail.Len() < 8<<10 {
					logTail.WriteString(sc.Text() + "\n")
				}
				logMu.Unlock()
			}
			_, _ = io.Copy(io.Discard, out)
		}()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitForPorts(ports, exited, 30*time.Second); err != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			logMu.Lock()
			lastErr = fmt.Errorf("%s did not start: %w\n%s", name, err, logTail.String())
			logMu.Unlock()
			continue
		}
		return process{ports: ports}
	}
	return process{err: lastErr}
}

func waitForPorts(ports []int, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, port := range ports {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		for {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				return fmt.Errorf("exited early: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("port %d not ready after %s", port, limit)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// UniqueName returns a lowercase alphanumeric name starting with a letter,
// suitable as a table-name prefix that no other test uses.
func UniqueName(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("testenv: random: %v", err)
	}
	return "t" + hex.EncodeToString(b)
}
