package run

import (
	"context"
	"net"

	"github.com/zdu-dev/zdu/steps/transport"
)

// failing is the transport of a node that could not be reached: every use
// returns the reason, so the step fails with it instead of the run crashing.
type failing struct{ err error }

func (f failing) Run(context.Context, transport.Command) (transport.Result, error) {
	return transport.Result{ExitCode: -1}, f.err
}
func (f failing) Dial(context.Context, string, string) (net.Conn, error) { return nil, f.err }
func (f failing) Close() error                                           { return nil }
