// Go HTTPS keep-alive loop for bench/run.py scenario 7 (Go crypto/tls
// uprobe and HTTP/2 capture cost).
//
//	bench_go_https server ADDR CERT KEY     answers "ok" over TLS, h1 and h2;
//	                                        prints "ready" once listening
//	bench_go_https client URL SECONDS h1|h2 CA
//	                                        one warm-up request (the connection
//	                                        and its HPACK table), then waits for
//	                                        a byte on stdin, then repeats GET URL
//	                                        with a bearer on that one connection
//	                                        for SECONDS (sized by time, not by
//	                                        count); prints {"requests": N,
//	                                        "seconds": S, "proto": P}
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func die(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func server(addr, cert, key string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		die(err)
	}
	fmt.Println("ready")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	die(http.ServeTLS(ln, h, cert, key))
}

func client(url string, seconds float64, proto, ca string) {
	pem, err := os.ReadFile(ca)
	if err != nil {
		die(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: proto == "h2",
		MaxIdleConnsPerHost: 1}
	if proto == "h1" {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	c := &http.Client{Transport: tr}
	get := func() string {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer reach-bench-go-0123456789abcdef")
		resp, err := c.Do(req)
		if err != nil {
			die(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Proto
	}
	p := get()
	var b [1]byte
	os.Stdin.Read(b[:])
	n, start := 0, time.Now()
	limit := time.Duration(seconds * float64(time.Second))
	for time.Since(start) < limit {
		get()
		n++
	}
	fmt.Printf("{\"requests\": %d, \"seconds\": %.4f, \"proto\": %q}\n", n, time.Since(start).Seconds(), p)
}

func main() {
	if len(os.Args) == 5 && os.Args[1] == "server" {
		server(os.Args[2], os.Args[3], os.Args[4])
		return
	}
	if len(os.Args) == 6 && os.Args[1] == "client" {
		s, err := strconv.ParseFloat(os.Args[3], 64)
		if err != nil || s <= 0 {
			die(fmt.Errorf("bad SECONDS %q", os.Args[3]))
		}
		client(os.Args[2], s, os.Args[4], os.Args[5])
		return
	}
	fmt.Fprintln(os.Stderr, "usage: bench_go_https server ADDR CERT KEY | client URL SECONDS h1|h2 CA")
	os.Exit(2)
}
