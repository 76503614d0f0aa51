// SPDX-License-Identifier: Apache-2.0

// Command selkie-netcheck is the local environment's network probe, run as a pod from
// its own image. `selkie-netcheck serve` answers every HTTP request on -listen with the
// pod's name and the address the request came from; `selkie-netcheck get URL...` fetches
// each URL (TLS without verification: it checks reachability, not identity), prints one
// line per URL and exits 1 if any failed.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: selkie-netcheck serve [-listen :8080] | get URL...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "get":
		err = get(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "selkie-netcheck:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", ":8080", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	name, _ := os.Hostname()
	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "pod=%s from=%s\n", name, r.RemoteAddr)
		})}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func get(urls []string) error {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	failed := 0
	for _, u := range urls {
		resp, err := client.Get(u)
		if err != nil {
			fmt.Printf("%s error %v\n", u, err)
			failed++
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		fmt.Printf("%s %d %s", u, resp.StatusCode, body)
		if len(body) == 0 || body[len(body)-1] != '\n' {
			fmt.Println()
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d URLs failed", failed, len(urls))
	}
	return nil
}
