package smtp

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
)

// fakeServer is a minimal SMTP peer for the failures MailDev cannot
// produce: it answers each command with a scripted reply. A reply may
// contain %s, replaced by the command's argument, because real servers
// echo the address they refuse and the tests check it does not leak.
type fakeServer struct {
	Host string
	Port int

	mu       sync.Mutex
	commands []string
	conns    []net.Conn
	closed   bool
}

// fakeScript is what the fake answers; empty fields get a success reply.
type fakeScript struct {
	Greeting   string   // default "220 fake.test ESMTP"
	Extensions []string // advertised after EHLO, e.g. "AUTH PLAIN"
	Mail       string   // MAIL FROM; default 250
	Rcpt       string   // RCPT TO; default 250
	Data       string   // DATA; default 354
	DataEnd    string   // after the message; default 250
	Auth       string   // AUTH; default: PLAIN and LOGIN succeed
	// Silent accepts the connection and never says anything.
	Silent bool
	// DropAfterData closes the connection instead of answering QUIT or
	// RSET once the message is accepted.
	DropAfterData bool
}

func startFakeServer(t *testing.T, script fakeScript) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fake smtp: listen: %v", err)
	}
	f := &fakeServer{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			if f.closed {
				f.mu.Unlock()
				c.Close()
				return
			}
			f.conns = append(f.conns, c)
			wg.Add(1)
			f.mu.Unlock()
			go func() {
				defer wg.Done()
				f.serve(c, script)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		f.mu.Lock()
		f.closed = true
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		wg.Wait()
	})
	return f
}

// Commands returns the command lines the fake has received, in order.
func (f *fakeServer) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

func (f *fakeServer) saw(verb string) bool {
	for _, c := range f.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), verb) {
			return true
		}
	}
	return false
}

func (f *fakeServer) serve(c net.Conn, s fakeScript) {
	defer c.Close()
	if s.Silent {
		// Hold the connection until the client gives up and closes it.
		_, _ = bufio.NewReader(c).ReadString('\n')
		return
	}
	r := bufio.NewReader(c)
	reply := func(format, arg string) {
		if strings.Contains(format, "%s") {
			format = fmt.Sprintf(format, arg)
		}
		_, _ = c.Write([]byte(format + "\r\n"))
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	reply(or(s.Greeting, "220 fake.test ESMTP"), "")
	if !strings.HasPrefix(or(s.Greeting, "220"), "220") {
		return
	}
	delivered := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		f.mu.Lock()
		f.commands = append(f.commands, line)
		f.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			exts := append([]string{"fake.test", "ENHANCEDSTATUSCODES"}, s.Extensions...)
			for i, e := range exts {
				sep := "-"
				if i == len(exts)-1 {
					sep = " "
				}
				reply("250"+sep+e, "")
			}
		case "HELO":
			reply("250 fake.test", "")
		case "AUTH":
			if s.Auth != "" {
				reply(s.Auth, "")
				continue
			}
			if mech, _, _ := strings.Cut(arg, " "); strings.EqualFold(mech, "LOGIN") {
				// Ask for the user name and the password, one line each.
				for _, prompt := range []string{"334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"} {
					reply(prompt, "")
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
				}
			}
			reply("235 2.7.0 Authentication successful", "")
		case "MAIL":
			reply(or(s.Mail, "250 2.1.0 Ok"), arg)
		case "RCPT":
			reply(or(s.Rcpt, "250 2.1.5 Ok"), arg)
		case "DATA":
			d := or(s.Data, "354 End data with <CR><LF>.<CR><LF>")
			reply(d, "")
			if !strings.HasPrefix(d, "354") {
				continue
			}
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			end := or(s.DataEnd, "250 2.0.0 Ok: queued")
			reply(end, "")
			delivered = strings.HasPrefix(end, "250")
		case "RSET", "NOOP":
			if delivered && s.DropAfterData {
				return
			}
			reply("250 2.0.0 Ok", "")
		case "QUIT":
			if delivered && s.DropAfterData {
				return
			}
			reply("221 2.0.0 Bye", "")
			return
		default:
			reply("502 5.5.2 Command not recognized", "")
		}
	}
}
