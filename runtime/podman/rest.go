//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/containers/podman/v5/pkg/bindings"
)

// The adapter calls podman's libpod REST API through the bindings' connection (package
// bindings: the socket's client, the API version in the path, the retried request, and its
// *errorhandling.ErrorModel for a failed answer), with the answer types it reads declared
// here, not through the bindings' per-resource packages (see the package doc's Footprint).
// Each function sends what the bindings' function of the same name sends (podman v5.4.2,
// pkg/bindings): TestRequestsMatchTheBindings compares them.

// do sends one request to the libpod API. endpoint is a format with %s for each path value,
// which is escaped. The caller closes the answer's body.
func (r *Runtime) do(ctx context.Context, method, endpoint string, query url.Values, header http.Header, body io.Reader, path ...string) (*bindings.APIResponse, error) {
	conn, err := bindings.GetClient(r.conn)
	if err != nil {
		return nil, err
	}
	return conn.DoRequest(ctx, body, method, endpoint, query, header, path...)
}

// call sends one request and decodes a successful answer's JSON into out (nil: it is read and
// dropped); a failed answer is the bindings' *errorhandling.ErrorModel.
func (r *Runtime) call(ctx context.Context, method, endpoint string, query url.Values, body io.Reader, out any, path ...string) error {
	resp, err := r.do(ctx, method, endpoint, query, nil, body, path...)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return resp.Process(out)
}

// exists answers a libpod .../exists call: true on a 2xx answer, false on any other.
func (r *Runtime) exists(ctx context.Context, endpoint, name string) (bool, error) {
	resp, err := r.do(ctx, http.MethodGet, endpoint, nil, nil, nil, name)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	return resp.IsSuccess(), nil
}

// jsonParam is a query parameter in JSON, as the bindings send a map (filters, labels).
func jsonParam[V string | []string](m map[string]V) string {
	b, _ := json.Marshal(m) // a map of strings or string lists always marshals
	return string(b)
}

// seconds is a whole number of seconds as a query parameter.
func seconds(n uint) string { return strconv.FormatUint(uint64(n), 10) }
