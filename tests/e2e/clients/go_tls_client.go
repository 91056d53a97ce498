// A Go HTTPS client for the e2e tests: GET url with the header
// HEADER_NAME: HEADER_VALUE (from the environment), trusting the CA in
// CA_FILE, over HTTP/2 (Go's default with ALPN) or, with H1=1, HTTP/1.1
// only, one request per URL argument on one connection; with GO_FILE set,
// it first waits (up to 30 s) for that file to exist. Exit 0 when every
// request got an answer.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	// the test says when the agent has probed this executable
	if f := os.Getenv("GO_FILE"); f != "" {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(f); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	pem, err := os.ReadFile(os.Getenv("CA_FILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	if os.Getenv("H1") == "1" {
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: tr}
	for _, url := range os.Args[1:] {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set(os.Getenv("HEADER_NAME"), os.Getenv("HEADER_VALUE"))
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(resp.Proto, resp.StatusCode)
	}
}
