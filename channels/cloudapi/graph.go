package cloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// maxAnswerBytes bounds a JSON answer of the Graph API (a page of
// templates is the largest chatgate reads).
const maxAnswerBytes = 8 << 20

// ClientOptions are the collaborators of a Client.
type ClientOptions struct {
	// HTTPClient carries the calls. Default: a client on a clone of
	// http.DefaultTransport that does not follow redirects. Timeouts come
	// from Config.SendTimeout and the callers' contexts.
	HTTPClient *http.Client
	// Now resolves an HTTP-date Retry-After. Default time.Now.
	Now func() time.Time
}

// Client calls the Graph API for one Meta app's access token: messages,
// media and message templates. Safe for concurrent use. It never logs, and
// its errors never hold the access token.
type Client struct {
	base     string // GraphBaseURL/GraphVersion
	token    string
	hc       *http.Client
	timeout  time.Duration
	maxMedia int64
	now      func() time.Time
}

// NewClient returns a client of a valid cfg with AccessToken set.
func NewClient(cfg Config, opts ClientOptions) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AccessToken == "" {
		return nil, errors.New("cloudapi config: AccessToken: required for Graph API calls (sends, media, templates)")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Client{
		base:     cfg.GraphBaseURL + "/" + cfg.GraphVersion,
		token:    cfg.AccessToken,
		hc:       opts.HTTPClient,
		timeout:  cfg.SendTimeout,
		maxMedia: cfg.MaxMediaBytes,
		now:      opts.Now,
	}, nil
}

// TransportError is a Graph API call that got no answer. Wrote says
// whether the whole request reached the network: after that Meta may have
// acted on it.
type TransportError struct {
	Wrote    bool
	TimedOut bool
	Err      error
}

// Error names the cause without the URL (which may carry ids).
func (e *TransportError) Error() string {
	what := "the connection failed"
	if e.TimedOut {
		what = "no answer within the timeout"
	}
	return "graph api: " + what + ": " + transportCause(e.Err)
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

func transportCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

var errCallTimeout = errors.New("graph api call timed out")

// call makes one bounded Graph API call to path (relative to the
// versioned base, or an absolute URL of the stand-in in tests) and decodes
// a 2xx JSON answer into out (nil: ignore). Errors: *GraphError for an
// error answer, *TransportError without one, or ctx's error.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body io.Reader, contentType string, out any) error {
	return c.callWithin(ctx, c.timeout, method, path, query, body, contentType, out)
}

// callWithin is call bounded by timeout instead of SendTimeout (0: by ctx only).
func (c *Client) callWithin(ctx context.Context, timeout time.Duration, method, path string, query url.Values, body io.Reader, contentType string, out any) error {
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if timeout > 0 {
		var cancelT context.CancelFunc
		cctx, cancelT = context.WithTimeoutCause(cctx, timeout, errCallTimeout)
		defer cancelT()
	}
	resp, wrote, err := c.do(cctx, method, c.base+path, query, body, contentType)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("graph api %s %s: %w", method, pathOnly(path), ctx.Err())
		}
		return &TransportError{Wrote: wrote, TimedOut: errors.Is(context.Cause(cctx), errCallTimeout), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if resp.StatusCode/100 != 2 {
		return parseGraphError(resp.StatusCode, resp.Header, data, c.now())
	}
	if err != nil {
		return &TransportError{Wrote: true, Err: fmt.Errorf("read answer: %w", err)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &answerError{status: resp.StatusCode, err: err}
		}
	}
	return nil
}

// answerError is a 2xx answer whose body is not what the API documents.
type answerError struct {
	status int
	err    error
}

func (e *answerError) Error() string {
	return fmt.Sprintf("graph api: HTTP %d answer could not be read: %v", e.status, e.err)
}

// do sends one request with the token, recording whether it was written.
func (c *Client) do(ctx context.Context, method, rawURL string, query url.Values, body io.Reader, contentType string) (*http.Response, bool, error) {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	if len(query) > 0 {
		rawURL += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	return resp, wrote.Load(), err
}

// pathOnly drops the query of path, for errors.
func pathOnly(p string) string {
	before, _, _ := strings.Cut(p, "?")
	return before
}

// SendResult is Meta's answer to a send.
type SendResult struct {
	// MessageID is the wamid of the sent message.
	MessageID string
	// UserID is the contact's business-scoped user id, when Meta told it.
	UserID string
}

// SendMessage posts one message (a /messages request body) from the
// business number phoneNumberID.
func (c *Client) SendMessage(ctx context.Context, phoneNumberID string, message any) (SendResult, error) {
	body, err := json.Marshal(message)
	if err != nil {
		return SendResult{}, fmt.Errorf("encode message: %w", err)
	}
	var ans struct {
		Contacts []struct {
			Input  string `json:"input"`
			WaID   string `json:"wa_id"`
			UserID string `json:"user_id"`
		} `json:"contacts"`
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := c.call(ctx, http.MethodPost, "/"+url.PathEscape(phoneNumberID)+"/messages", nil, bytes.NewReader(body), "application/json", &ans); err != nil {
		return SendResult{}, err
	}
	var res SendResult
	if len(ans.Messages) > 0 {
		res.MessageID = ans.Messages[0].ID
	}
	if len(ans.Contacts) > 0 && isBSUID(ans.Contacts[0].UserID) {
		res.UserID = ans.Contacts[0].UserID
	}
	return res, nil
}
