package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// R41 through chatgate run's wiring: a desk opens GET /v1/stream, then a
// customer writes on the API channel, and the conversation's events arrive
// on the stream without the desk asking.
func TestR41_StreamThroughTheWiring(t *testing.T) {
	t.Parallel()
	s := startStack(t, startBroker(t), pgtest.URL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testDeskToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan string, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- name
			} else if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(data, "stream-1") {
				events <- "data:stream-1"
			}
		}
	}()
	next := func(want string) {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("stream ended before %q", want)
				}
				if ev == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %q on the stream", want)
			}
		}
	}
	next("ready")
	s.mustPost(t, apiMessage{ID: "stream-1", From: "+27820000077", Text: "Hello, anyone?"})
	next("ticket")
	next("data:stream-1")
}
