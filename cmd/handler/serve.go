package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/palvelumanuaali/useradmin/handlers"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/schedule"
)

// serveOptions are the server's limits and the outside parts it wires.
// Tests shorten the limits and replace the parts that have no local
// stand-in (Key Vault).
type serveOptions struct {
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	// writeTimeout bounds an API answer. The invocation endpoints lift it
	// to invocationTimeout for themselves.
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	invocationTimeout time.Duration
	// wiringTimeout bounds start-up: requests that arrive meanwhile wait
	// at most this long. Well inside the host's 30 s initialisation limit
	// and far inside its invocation timeout.
	wiringTimeout time.Duration
	outside       outsideParts
}

func defaultServeOptions() serveOptions {
	return serveOptions{
		readHeaderTimeout: 10 * time.Second,
		readTimeout:       30 * time.Second,
		writeTimeout:      60 * time.Second,
		idleTimeout:       120 * time.Second,
		invocationTimeout: config.FunctionTimeout,
		wiringTimeout:     20 * time.Second,
	}
}

// newHTTPServer is the one place the server's limits are set.
func newHTTPServer(h http.Handler, o serveOptions) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.readHeaderTimeout,
		ReadTimeout:       o.readTimeout,
		WriteTimeout:      o.writeTimeout,
		IdleTimeout:       o.idleTimeout,
		MaxHeaderBytes:    32 << 10,
	}
}

// serve runs the HTTP server with the configuration from the environment.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	return serveWith(ctx, cfg, log, defaultServeOptions())
}

// serveWith listens first and wires the application after, because the
// Functions host gives a custom handler about 30 s to answer its first
// request and wiring makes network calls (Key Vault, storage). Requests
// that arrive meanwhile wait for wiring (handlers.StartGate) and are then
// served; a wiring failure answers them 503 and stops the process with
// the reason.
func serveWith(ctx context.Context, cfg config.Config, log *slog.Logger, opts serveOptions) error {
	addr, mode := cfg.ListenAddr, "standalone"
	if cfg.FunctionsEnv() {
		// The host connects to 127.0.0.1 on the port it chose.
		addr, mode = net.JoinHostPort("127.0.0.1", cfg.FunctionsPort), "functions"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	gate := handlers.NewStartGate()
	srv := newHTTPServer(gate, opts)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "mode", mode)

	a, err := wireWithin(ctx, cfg, log, opts)
	if err != nil && ctx.Err() != nil {
		// Told to stop while starting: nothing failed.
		gate.Fail()
		_ = srv.Close()
		log.Info("stopped before ready")
		return nil
	}
	if err != nil {
		gate.Fail()
		// Let the requests that waited get their 503 before the process
		// goes; the host starts a new one.
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(shutdownCtx)
		cancel()
		return fmt.Errorf("start: %w", err)
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	detached := &detacher{ctx: workCtx}
	var workers sync.WaitGroup
	relayWorkers := 2
	if a.inProcess {
		// Standalone, a relay worker also sends the email (the in-process
		// transport hands it straight to the consumer).
		relayWorkers = 4
	}
	workers.Add(1)
	go func() { defer workers.Done(); a.relay.Run(workCtx, relayWorkers) }()
	if mode == "standalone" {
		// In Azure the LifecycleSweep timer function runs the sweep; here
		// the same schedule runs it in-process.
		sched, err := schedule.Parse(cfg.LifecycleSchedule)
		if err != nil {
			return err
		}
		workers.Add(1)
		go func() {
			defer workers.Done()
			schedule.Run(workCtx, sched, time.Now, schedule.Sleep, func(ctx context.Context, _ time.Time) {
				_, _ = a.sweep(ctx, time.Now(), false, nil)
			})
		}()
	}

	services := handlers.Services{Accounts: a.accounts, Organizations: a.orgs, Hashing: a.hasher}
	if mode == "functions" {
		// The trigger endpoints exist only where the Functions host is the
		// only thing that can reach them (it forwards nothing but /api/...
		// from outside). Standalone has no such gate, so it has none.
		services.Notifications, services.MaxDeliveries = a.consumer, cfg.NotificationMaxDeliveries
		services.Sweep = func(ctx context.Context) (string, error) {
			sum, err := a.sweep(ctx, time.Now(), false, nil)
			return summaryLine(sum), err
		}
		services.DrainOutbox = a.drainOutbox
	}
	api := handlers.NewServer(log, handlers.Options{CORSOrigins: cfg.CORSOrigins, PlatformCORS: cfg.FunctionsEnv(), MaxBodyBytes: cfg.MaxBodyBytes,
		InvocationTimeout: opts.invocationTimeout, Now: a.now, Throttle: throttle(cfg)}, services, detached, a.store.Ping)
	gate.Open(api)
	log.Info("ready", "addr", ln.Addr().String(), "mode", mode)

	select {
	case err := <-serveErr:
		stopWork()
		workers.Wait()
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	detached.wait()
	stopWork()
	workers.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// throttle is the edge's request limits from the configuration. Under the
// Functions host the client's address comes from the platform's front end.
func throttle(cfg config.Config) handlers.Throttle {
	t := cfg.Throttle
	return handlers.Throttle{ClientPerMinute: t.ClientPerMinute, ClientBurst: t.ClientBurst,
		GlobalPerMinute: t.GlobalPerMinute, GlobalBurst: t.GlobalBurst, MaxClients: t.MaxClients,
		BehindPlatform: cfg.FunctionsEnv()}
}

// wireWithin wires the application within opts.wiringTimeout, so a
// request held by the start gate never waits longer than that.
func wireWithin(ctx context.Context, cfg config.Config, log *slog.Logger, opts serveOptions) (*app, error) {
	wireCtx, cancel := context.WithTimeout(ctx, opts.wiringTimeout)
	defer cancel()
	type result struct {
		a   *app
		err error
	}
	wired := make(chan result, 1)
	go func() {
		a, err := build(wireCtx, cfg, log, time.Now, opts.outside)
		wired <- result{a, err}
	}()
	select {
	case r := <-wired:
		return r.a, r.err
	case <-wireCtx.Done():
		// A part that ignores its context must not keep requests waiting.
		return nil, fmt.Errorf("wiring did not finish within %s: %w", opts.wiringTimeout, wireCtx.Err())
	}
}

// detacher runs work that outlives its request and lets shutdown wait for it.
type detacher struct {
	ctx context.Context
	wg  sync.WaitGroup
}

func (d *detacher) Go(f func(ctx context.Context)) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f(d.ctx)
	}()
}

func (d *detacher) wait() { d.wg.Wait() }
