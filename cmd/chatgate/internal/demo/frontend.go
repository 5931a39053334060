package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	apichannel "github.com/chatgate/chatgate/channels/api"
)

// FrontEnd stands in for a customer's web front end on the API
// channel: chatgate POSTs the customer's messages to it, signed.
type FrontEnd struct {
	// URL is where chatgate's API channel should POST its callbacks.
	URL    string
	secret string
	srv    *http.Server
	inbox  demoLog[apichannel.Callback]
	refuse demoLog[string] // callbacks whose signature did not verify
}

// StartFrontEnd starts a front end on a free loopback port that accepts
// callbacks signed with secret. Close stops it.
func StartFrontEnd(secret string) (*FrontEnd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo front end: %w", err)
	}
	f := &FrontEnd{URL: "http://" + ln.Addr().String() + "/chatgate", secret: secret}
	f.inbox.init()
	f.refuse.init()
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// ServeHTTP receives one outbound message of the API channel.
func (f *FrontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := apichannel.VerifySignature(f.secret, r.Header.Get(apichannel.HeaderTimestamp), body,
		r.Header.Get(apichannel.HeaderSignature), time.Now(), 0); err != nil {
		f.refuse.add(err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var cb apichannel.Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		f.refuse.add("undecodable callback: " + err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := f.inbox.add(cb)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"front-end-%d"}`, n)
}

// Close stops the front end.
func (f *FrontEnd) Close() { _ = f.srv.Close() }

// demoLog is an append-only list that can be waited on.
type demoLog[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every add
}

func (l *demoLog[T]) init() { l.changed = make(chan struct{}) }

func (l *demoLog[T]) add(v T) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(l.items)
}

// wait calls cond with the items until it returns true or ctx ends.
func (l *demoLog[T]) wait(ctx context.Context, cond func([]T) bool) error {
	for {
		l.mu.Lock()
		ok, changed := cond(l.items), l.changed
		l.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *demoLog[T]) snapshot() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}
