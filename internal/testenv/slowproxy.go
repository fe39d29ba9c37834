package testenv

import (
	"io"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"
)

// SlowProxy forwards TCP connections to target (host:port) and holds every
// chunk the client sends for delay before passing it on: storage that
// answers slowly, as a cold region or a throttled account does, without a
// hook in the code under test. It returns the proxy's host:port and stops
// with the test.
func SlowProxy(tb testing.TB, target string, delay time.Duration) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: slow proxy: %v", err)
	}
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	track := func(c net.Conn) {
		mu.Lock()
		open[c] = true
		mu.Unlock()
	}
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range open {
			c.Close() // idle keep-alive connections of the code under test
		}
	})
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			track(client)
			go func() {
				defer client.Close()
				server, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				track(server)
				defer server.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(client, server); done <- struct{}{} }()
				go func() { _, _ = io.Copy(server, delayedReader{client, delay}); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

type delayedReader struct {
	r     io.Reader
	delay time.Duration
}

func (d delayedReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if n > 0 {
		time.Sleep(d.delay)
	}
	return n, err
}

var tableEndpointHost = regexp.MustCompile(`TableEndpoint=http://([^/;]+)`)

// SlowAzuriteConnectionString is AzuriteConnectionString through a
// SlowProxy: every request to storage waits delay first.
func SlowAzuriteConnectionString(tb testing.TB, delay time.Duration) string {
	tb.Helper()
	cs := AzuriteConnectionString(tb)
	m := tableEndpointHost.FindStringSubmatch(cs)
	if m == nil {
		tb.Fatalf("testenv: no TableEndpoint host in the Azurite connection string")
	}
	return tableEndpointHost.ReplaceAllString(cs, "TableEndpoint=http://"+SlowProxy(tb, m[1], delay))
}
