package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Failure reasons that are not a status code or an error text.
const (
	reasonSaturated = "probe saturated"
	reasonResent    = "resent by the client"
	reasonTimeout   = "timeout"
	reasonCutBody   = "cut body"
	reasonRefused   = "connection refused"
	reasonReset     = "connection reset"
	reasonEOF       = "eof"
)

const (
	// maxReasonLength cuts an error text used as a reason.
	maxReasonLength = 60
	// userAgent lets a service's access log tell the probe's requests apart.
	userAgent = "zdu-probe/1"
	// maxIdle bounds the kept-alive connections.
	maxIdle = 1024
	// idleTimeout is how long a kept-alive connection may sit unused.
	idleTimeout = 2 * time.Second
)

// newClient keeps connections alive like a real API client, with enough idle
// ones that the probe does not churn through new connections at high rates.
// It talks to the URL directly: a proxy from the environment would measure
// the proxy, not the service.
func newClient(maxInFlight int) *http.Client {
	idle := min(maxInFlight, maxIdle)
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		// Close idle connections before servers do (Apache's keep-alive
		// timeout is 5s): one closed by the server just as it is reused is
		// resent, which counts as a failure the service did not cause.
		IdleConnTimeout: idleTimeout,
	}
	return &http.Client{
		Transport: tr,
		// A redirect is an answer of its own (3xx counts as up); following it
		// would probe another URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get sends one GET and reads the whole body within the timeout. It returns
// "" on success, else the failure's reason, and the server the load
// balancer says answered (ServerHeader; "" when it does not say). The
// probe's requests run under context.Background, to their end or timeout;
// Ping's end with its ctx.
func (p *Probe) get(parent context.Context) (string, string) {
	reason, resp := p.do(parent)
	srv := ""
	if resp != nil {
		srv = resp.Header.Get(ServerHeader)
	}
	return reason, srv
}

func (p *Probe) do(parent context.Context) (string, *http.Response) {
	ctx, cancel := context.WithTimeout(parent, p.cfg.Timeout)
	defer cancel()
	var conns atomic.Int32
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { conns.Add(1) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, p.cfg.URL, nil)
	if err != nil {
		return short(err), nil // the URL was checked by Start; kept for safety
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		return classify(ctx, err), nil
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode < 200 || resp.StatusCode >= 400:
		return strconv.Itoa(resp.StatusCode), resp
	case err != nil && ctx.Err() != nil:
		return reasonTimeout, resp
	case err != nil:
		return reasonCutBody, resp
	case conns.Load() > 1:
		// The transport got a second connection for this request: its first
		// one died before the answer and the GET was silently re-sent.
		return reasonResent, resp
	}
	return "", resp
}

// classify names a transport error with a short, stable reason.
func classify(ctx context.Context, err error) string {
	var ne net.Error
	switch {
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return reasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return reasonRefused
	case errors.Is(err, syscall.ECONNRESET):
		return reasonReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return reasonEOF
	}
	return short(err)
}

// short is the innermost meaningful text of err, without the URL and
// addresses the wrappers add, cut to maxReasonLength.
func short(err error) string {
	for {
		var (
			ue *url.Error
			oe *net.OpError
			se *os.SyscallError
		)
		switch {
		case errors.As(err, &ue) && ue.Err != nil:
			err = ue.Err
			continue
		case errors.As(err, &oe) && oe.Err != nil:
			err = oe.Err
			continue
		case errors.As(err, &se) && se.Err != nil:
			err = se.Err
			continue
		}
		break
	}
	s := err.Error()
	if len(s) > maxReasonLength {
		s = s[:maxReasonLength]
	}
	return s
}
