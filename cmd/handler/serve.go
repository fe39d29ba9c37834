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
	"sync/atomic"
	"time"

	"github.com/palvelumanuaali/useradmin/handlers"
	"github.com/palvelumanuaali/useradmin/internal/config"
	"github.com/palvelumanuaali/useradmin/internal/schedule"
)

// serve runs the HTTP server. It listens first and wires the application
// after, because the Functions host gives a custom handler about 30 s to
// answer its first request and wiring makes network calls (Key Vault,
// table creation). Until wiring is done every request gets a 503 with
// Retry-After; a wiring failure stops the process with the reason.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	addr, mode := cfg.ListenAddr, "standalone"
	if port := getenv("FUNCTIONS_CUSTOMHANDLER_PORT"); port != "" {
		// The host connects to 127.0.0.1 on the port it chose.
		addr, mode = net.JoinHostPort("127.0.0.1", port), "functions"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}

	var current atomic.Pointer[http.Handler]
	starting := handlers.Starting()
	current.Store(&starting)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*current.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "mode", mode)

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	a, err := build(ctx, cfg, log, time.Now)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("start: %w", err)
	}
	detached := &detacher{ctx: workCtx}
	var workers sync.WaitGroup
	if a.queue != nil {
		workers.Add(1)
		go func() { defer workers.Done(); a.queue.Run(workCtx, 4) }()
	}
	workers.Add(1)
	go func() { defer workers.Done(); a.relay.Run(workCtx, 2) }()
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

	services := handlers.Services{Accounts: a.accounts, Organizations: a.orgs}
	if mode == "functions" {
		// The trigger endpoints exist only where the Functions host is the
		// only thing that can reach them (it forwards nothing but /api/...
		// from outside). Standalone has no such gate, so it has none.
		services.Notifications, services.MaxDeliveries = a.consumer, cfg.NotificationMaxDeliveries
		services.Sweep = func(ctx context.Context) (string, error) {
			sum, err := a.sweep(ctx, time.Now(), false, nil)
			return summaryLine(sum), err
		}
	}
	api := handlers.NewServer(log, handlers.Options{CORSOrigins: cfg.CORSOrigins, MaxBodyBytes: cfg.MaxBodyBytes},
		services, detached, a.store.Ping)
	current.Store(&api)
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
