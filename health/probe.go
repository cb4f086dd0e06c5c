package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Prober runs one probe and reports its result; err describes a failure (never nil with Fail
// from a network error, so that callers can log why).
type Prober interface {
	Probe(ctx context.Context) (Result, error)
}

// HTTPProber GETs URL; 2xx and 3xx statuses are Success. Redirects are not followed.
type HTTPProber struct {
	URL     string
	Timeout time.Duration
	// Client defaults to a client that does not follow redirects and keeps no idle connections
	// (an idle pool per app would outlive the probe for nothing).
	Client *http.Client
}

var defaultHTTPClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Probe implements Prober.
func (p HTTPProber) Probe(ctx context.Context) (Result, error) {
	ctx, cancel := withTimeout(ctx, p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return Fail, err
	}
	c := p.Client
	if c == nil {
		c = defaultHTTPClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Fail, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return Fail, fmt.Errorf("http status %d", resp.StatusCode)
	}
	return Success, nil
}

// TCPProber connects to Address (host:port).
type TCPProber struct {
	Address string
	Timeout time.Duration
}

// Probe implements Prober.
func (p TCPProber) Probe(ctx context.Context) (Result, error) {
	ctx, cancel := withTimeout(ctx, p.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Address)
	if err != nil {
		return Fail, err
	}
	conn.Close()
	return Success, nil
}

// ProberFor returns the host-side prober of c (HTTP or TCP), or nil for exec and no check.
func ProberFor(c Check) Prober {
	c = c.WithDefaults()
	switch c.Kind() {
	case KindHTTP:
		return HTTPProber{URL: c.HTTP.URL, Timeout: c.Timeout}
	case KindTCP:
		return TCPProber{Address: c.TCP, Timeout: c.Timeout}
	}
	return nil
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

func splitHostPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, n, nil
}
