// Entry of the go template: an HTTP server on loopback that fwatchdog (mode=http) starts once
// and proxies every request to, at upstream_url. Every request goes to function.Handle; a
// panic in it is a 500 with the panic's text, and the server keeps serving.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"handler/function"
)

// duration reads a watchdog-style timeout: whole seconds ("30") or a Go duration ("500ms").
func duration(name string, fallback time.Duration) time.Duration {
	value := os.Getenv(name)
	if value == "" {
		return fallback
	}
	if seconds, err := strconv.Atoi(value); err == nil {
		return time.Duration(seconds) * time.Second
	}
	if d, err := time.ParseDuration(value); err == nil {
		return d
	}
	log.Printf("go: %s=%q is not a duration; using %s", name, value, fallback)
	return fallback
}

// listenAddress is where upstream_url points (127.0.0.1:8082 by default); http_port, when set,
// is the port. The gateway's local provider runs several replicas on one host and gives each
// its own port in http_port; the Docker image leaves it unset.
func listenAddress() string {
	host, port := "127.0.0.1", "8082"
	if upstream, err := url.Parse(os.Getenv("upstream_url")); err == nil && upstream.Host != "" {
		host = upstream.Hostname()
		if upstream.Port() != "" {
			port = upstream.Port()
		}
	}
	if value := os.Getenv("http_port"); value != "" {
		if n, err := strconv.Atoi(value); err != nil || n < 1 || n > 65535 {
			log.Fatalf("go: http_port=%q is not a port number", value)
		}
		port = value
	}
	return net.JoinHostPort(host, port)
}

// recovered turns a handler's panic into a 500 carrying the panic's text.
func recovered(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Printf("go: panic in Handle: %v\n%s", p, debug.Stack())
				http.Error(w, fmt.Sprint(p), http.StatusInternalServerError)
			}
		}()
		next(w, r)
	}
}

func main() {
	log.SetFlags(0)
	readTimeout := duration("read_timeout", 30*time.Second)
	// The watchdog gives up on a call after exec_timeout (or write_timeout when it is 0); keep
	// writing a little longer so that the watchdog, not this server, decides the timeout.
	writeTimeout := duration("exec_timeout", 0)
	if writeTimeout <= 0 {
		writeTimeout = duration("write_timeout", 30*time.Second)
	}
	server := &http.Server{
		Addr:              listenAddress(),
		Handler:           recovered(function.Handle),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout + time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}

	stopped := make(chan struct{})
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		defer cancel()
		if err := server.Shutdown(ctx); err != nil {
			log.Printf("go: shutdown: %v", err)
		}
		close(stopped)
	}()

	log.Printf("go: serving on %s", server.Addr)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("go: %v", err)
	}
	<-stopped
}
