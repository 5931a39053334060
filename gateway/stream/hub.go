package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Defaults of Config.
const (
	// DefaultHistory is how far back a reconnecting client is resumed
	// without a gap: the history keeps the events of the last 10 minutes.
	DefaultHistory = 10 * time.Minute
	// DefaultHistoryBytes bounds the history's memory, whatever the rate.
	DefaultHistoryBytes = 64 << 20
	// DefaultConversations is how many conversations the hub remembers the
	// last state of, to tell who saw one before its next change.
	DefaultConversations = 50_000
	// DefaultClientQueue is how many events may wait for one client; a
	// client further behind is cut off with a resync hint.
	DefaultClientQueue = 256
	// DefaultCountsDebounce is how long the hub gathers changes before it
	// recounts the queues: one query per window for every client.
	DefaultCountsDebounce = 250 * time.Millisecond
)

// Source is where the hub reads the tickets topic; gateway/kafka.Follower
// implements it.
type Source interface {
	// Ends returns, per partition, the offset the next record will get.
	Ends(ctx context.Context) (map[int]int64, error)
	// Follow reads the partitions of from, each from its offset, passing
	// the records to deliver in order per partition, from one goroutine,
	// until ctx ends; deliver must not keep the slice.
	Follow(ctx context.Context, from map[int]int64, deliver func([]gateway.Message)) error
}

// Viewer is what one principal may see; ticketing.Scope implements it with
// the desk API's own rules.
type Viewer interface {
	// Visible reports whether the principal may see the conversation.
	Visible(v gateway.ConversationView) bool
	// Listed reports whether conversations in state ("unassigned",
	// "assigned", "snoozed"), of department, assigned to assignee, are on
	// the principal's desk list of that state: what its queue counts count.
	Listed(state, department, assignee string) bool
}

// CountFunc counts every queue in one query, passing each group to add:
// "unassigned" per department, "assigned" per assignee, "snoozed" per
// department and assignee. ticketing/pgstore.Store.QueueTotals is one.
type CountFunc func(ctx context.Context, add func(state, department, assignee string, count int)) error

// Config configures a Hub.
type Config struct {
	// Source reads the tickets topic. Required.
	Source Source
	// Count counts the queues for queue.counts; nil sends no counts.
	Count CountFunc
	// History is how long events are kept for clients that reconnect.
	// Default DefaultHistory.
	History time.Duration
	// HistoryBytes bounds the history's memory (the records plus a fixed
	// cost per event); the oldest events go first. Default
	// DefaultHistoryBytes.
	HistoryBytes int
	// Conversations is how many conversations' last states are remembered.
	// Default DefaultConversations.
	Conversations int
	// ClientQueue is how many events may wait for one client. Default
	// DefaultClientQueue.
	ClientQueue int
	// CountsDebounce is the window of changes one recount covers. Default
	// DefaultCountsDebounce.
	CountsDebounce time.Duration
	// Logger receives the hub's start, errors and slow clients (nil
	// discards).
	Logger *slog.Logger
	// Now is the clock the history ages by. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.HistoryBytes == 0 {
		c.HistoryBytes = DefaultHistoryBytes
	}
	if c.Conversations == 0 {
		c.Conversations = DefaultConversations
	}
	if c.ClientQueue == 0 {
		c.ClientQueue = DefaultClientQueue
	}
	if c.CountsDebounce == 0 {
		c.CountsDebounce = DefaultCountsDebounce
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Source == nil {
		errs = append(errs, errors.New("Source is required"))
	}
	for name, v := range map[string]int64{"History": int64(c.History), "HistoryBytes": int64(c.HistoryBytes),
		"Conversations": int64(c.Conversations), "ClientQueue": int64(c.ClientQueue), "CountsDebounce": int64(c.CountsDebounce)} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s is negative", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stream config: %w", err)
	}
	return nil
}

// entryOverhead is what an event costs the history besides its record:
// the entry, its parsed conversation and the indexes.
const entryOverhead = 768

// Hub follows the tickets topic from its end, keeps the last History of
// events, and fans them out to its clients, each filtered by its Viewer.
// Every process runs its own hub on every partition, so processes behind a
// load balancer each serve their own clients, and an event's id (a
// position on the topic) means the same on all of them.
type Hub struct {
	cfg       Config
	log       *slog.Logger
	ready     chan struct{} // closed once the start offsets are known
	done      chan struct{} // closed when Run has ended
	countWake chan struct{} // a change the counts may depend on

	// Used by the ingest goroutine only (Follow's deliver).
	memory *memory
	cur    position

	mu      sync.RWMutex
	pos     position // right after the last record read
	floor   position // the history holds every event from floor up to pos
	hist    []*entry // hist[i].seq == base+i
	base    uint64
	bytes   int
	parts   map[int][]uint64 // per partition, the seqs of its events in hist
	clients map[*client]struct{}
	totals  []tally
	closed  bool
}

// NewHub returns a hub; Run starts it.
func NewHub(cfg Config) (*Hub, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Hub{
		cfg: cfg, log: cfg.Logger,
		ready: make(chan struct{}), done: make(chan struct{}), countWake: make(chan struct{}, 1),
		memory: newMemory(cfg.Conversations), parts: map[int][]uint64{}, clients: map[*client]struct{}{},
	}, nil
}

// Run follows the topic from its end offsets until ctx ends, then tells
// every client to come back later and closes them. It returns nil after
// ctx ended; read errors are logged and retried. Call it once.
func (h *Hub) Run(ctx context.Context) error {
	defer h.shutdown()
	var start position
	for {
		ends, err := h.cfg.Source.Ends(ctx)
		if err == nil && len(ends) > 0 {
			start = position(ends)
			break
		}
		if err == nil {
			err = errors.New("the topic has no partitions")
		}
		h.log.WarnContext(ctx, "stream: cannot read the tickets topic's end offsets; retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	h.cur = maps.Clone(start)
	h.mu.Lock()
	h.pos, h.floor = maps.Clone(start), maps.Clone(start)
	h.mu.Unlock()
	close(h.ready)
	h.log.InfoContext(ctx, "stream hub following the tickets topic", "partitions", len(start))

	var wg sync.WaitGroup
	if h.cfg.Count != nil {
		h.wakeCounts() // the first counts, for the first clients
		wg.Go(func() { h.countLoop(ctx) })
	}
	defer wg.Wait()
	for ctx.Err() == nil {
		err := h.cfg.Source.Follow(ctx, maps.Clone(h.cur), h.ingest)
		if ctx.Err() != nil {
			break
		}
		h.log.ErrorContext(ctx, "stream: following the tickets topic failed; restarting where it stopped", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// shutdown cuts every client with the retry hint and refuses new ones.
func (h *Hub) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for c := range h.clients {
		h.cutLocked(c, cutShutdown)
	}
	close(h.done)
}

// ingest takes one batch of records: parses them, appends the events to
// the history, trims it, and fans the events out to the live clients.
func (h *Hub) ingest(msgs []gateway.Message) {
	now := h.cfg.Now()
	fresh := make([]*entry, 0, len(msgs))
	recount := false
	for _, m := range msgs {
		if m.Offset+1 > h.cur[m.Partition] {
			h.cur[m.Partition] = m.Offset + 1
		}
		e, d := parse(m)
		if e == nil {
			continue
		}
		e.at = now
		e.id = h.cur.encode()
		if h.link(e, d) {
			recount = true
		}
		e.size = len(e.data) + len(e.removed) + len(e.id) + entryOverhead
		for _, n := range e.notices {
			e.size += len(n.data)
		}
		fresh = append(fresh, e)
	}
	h.mu.Lock()
	h.pos = maps.Clone(h.cur)
	for _, e := range fresh {
		e.seq = h.base + uint64(len(h.hist))
		h.hist = append(h.hist, e)
		h.parts[e.part] = append(h.parts[e.part], e.seq)
		h.bytes += e.size
	}
	h.trimLocked(now)
	if len(fresh) > 0 {
		for c := range h.clients {
			h.fanOutLocked(c, fresh)
		}
	}
	h.observeLocked()
	h.mu.Unlock()
	if recount {
		h.wakeCounts()
	}
}

// link fills in who saw the conversation of e before its change, from the
// hub's memory or the event, and remembers its state now. It reports
// whether the change may move a queue count.
func (h *Hub) link(e *entry, d *eventData) bool {
	if e.after == nil {
		if st, ok := h.memory.get(e.convID); ok {
			e.known = st.view(e.convID)
		}
		return false
	}
	now := stateOf(e.after)
	prev, known := h.memory.swap(e.convID, now)
	if !known {
		prev, known = beforeOf(e.typ, d, now)
		if !known {
			return true
		}
	}
	if !prev.equal(now) {
		e.before = prev.view(e.convID)
		raw, err := json.Marshal(removedData{ConversationID: e.convID, EventID: e.eventID, Type: e.typ, At: e.time})
		if err == nil { // a struct of plain fields always marshals
			e.removed = raw
		}
	}
	return !prev.queued(now)
}

// trimLocked drops the events older than History, then the oldest ones
// while the history is over HistoryBytes, and moves the floor past them.
func (h *Hub) trimLocked(now time.Time) {
	n := 0
	for n < len(h.hist) {
		e := h.hist[n]
		if now.Sub(e.at) <= h.cfg.History && h.bytes <= h.cfg.HistoryBytes {
			break
		}
		h.bytes -= e.size
		if e.offset+1 > h.floor[e.part] {
			h.floor[e.part] = e.offset + 1
		}
		h.parts[e.part] = h.parts[e.part][1:]
		n++
	}
	if n == 0 {
		return
	}
	clear(h.hist[:n])
	h.hist = h.hist[n:]
	h.base += uint64(n)
}

// headLocked is the seq the next event will get.
func (h *Hub) headLocked() uint64 { return h.base + uint64(len(h.hist)) }

func (h *Hub) at(seq uint64) *entry { return h.hist[seq-h.base] }

// startLocked is the seq of the first event a client at position p has not
// had: on each partition, the first event at or past p's offset.
func (h *Hub) startLocked(p position) uint64 {
	start := h.headLocked()
	for part, seqs := range h.parts {
		i := sort.Search(len(seqs), func(i int) bool { return h.at(seqs[i]).offset >= p[part] })
		if i < len(seqs) && seqs[i] < start {
			start = seqs[i]
		}
	}
	return start
}

// wakeCounts asks the count loop for a recount.
func (h *Hub) wakeCounts() {
	select {
	case h.countWake <- struct{}{}:
	default:
	}
}

// ErrClosed is returned to clients of a hub that has stopped.
var ErrClosed = errors.New("stream hub stopped")

// Why a client was cut off.
const (
	cutSlow     = "slow_client"
	cutShutdown = "shutdown"
)

// What a delivery writes for an event.
const (
	sendTicket  = 1 << iota // the event, as `ticket`
	sendRemoved             // `ticket.removed`
	sendNotice              // the client's `notification`
)

// delivery is one event for one client.
type delivery struct {
	e    *entry
	what uint8
}

// client is one connected stream.
type client struct {
	agent string
	queue chan delivery
	// counts carries the latest queue.counts payload; the hub replaces an
	// unsent one.
	counts chan []byte
	cut    chan struct{} // closed when the hub drops the client

	// Under the hub's lock.
	viewer    Viewer
	floor     position // the client's own position while past the hub's
	live      bool
	sent      []byte // the last counts payload offered
	cutReason string
	cutID     string

	next uint64 // catch-up cursor: the client's goroutine only
}

// decide returns what c is sent of e: the event if it sees the
// conversation after the change; ticket.removed if it saw it only before
// (so its lists can drop it); its notification. A client resumed from a
// position past the hub's skips what it had and gets ids that keep its
// position, until the hub has caught up with it.
func (c *client) decide(e *entry) (delivery, bool) {
	if c.floor != nil {
		if e.offset < c.floor[e.part] {
			return delivery{}, false
		}
		vec, err := decodePosition(e.id)
		if err == nil && vec.covers(c.floor) {
			c.floor = nil
		} else if err == nil {
			cp := *e
			cp.id = vec.merged(c.floor).encode()
			e = &cp
		}
	}
	var what uint8
	switch {
	case e.after != nil && c.viewer.Visible(*e.after):
		what = sendTicket
	case e.before != nil && c.viewer.Visible(*e.before):
		what = sendRemoved
	case e.after == nil && ((c.agent != "" && e.rejected == c.agent) || (e.known != nil && c.viewer.Visible(*e.known))):
		what = sendTicket
	}
	if c.agent != "" {
		for _, n := range e.notices {
			if n.agent == c.agent {
				what |= sendNotice
			}
		}
	}
	return delivery{e: e, what: what}, what != 0
}

// fanOutLocked queues fresh events for a live client, cutting it off when
// its queue is full: it is too far behind to catch up from memory.
func (h *Hub) fanOutLocked(c *client, fresh []*entry) {
	for _, e := range fresh {
		d, ok := c.decide(e)
		if !ok {
			continue
		}
		select {
		case c.queue <- d:
		default:
			h.log.Warn("stream: client too slow; cut off with a resync hint", "agent_id", c.agent, "queue", cap(c.queue))
			h.cutLocked(c, cutSlow)
			return
		}
	}
}

// cutLocked drops c from the live clients and closes its cut channel.
func (h *Hub) cutLocked(c *client, reason string) {
	delete(h.clients, c)
	if c.cutReason != "" {
		return
	}
	c.cutReason, c.cutID = reason, h.pos.encode()
	close(c.cut)
	cutClients.WithLabelValues(reason).Inc()
}

// opening is how a subscription starts: ready (fresh, or resumed without
// a gap) or resync, with the id to send.
type opening struct {
	resync  string // the resync reason; "" for ready
	id      string // "" when resumed: the client keeps its own
	resumed bool
}

// Resync reasons.
const (
	resyncGap     = "gap"           // the history no longer covers the client's position
	resyncUnknown = "unknown_id"    // an id of another version, topic or cluster
	resyncSlow    = cutSlow         // the client fell behind
	resyncScope   = "scope_changed" // what the principal may see changed
)

// subscribe adds a client that sees what viewer admits and gets agent's
// notifications, starting after last (nil: from now). lastErr is the
// error of decoding the client's Last-Event-ID, errPositionVersion or nil.
func (h *Hub) subscribe(ctx context.Context, viewer Viewer, agent string, last position, lastErr error) (*client, opening, error) {
	select {
	case <-h.ready:
	case <-h.done:
		return nil, opening{}, ErrClosed
	case <-ctx.Done():
		return nil, opening{}, ctx.Err()
	}
	c := &client{agent: agent, viewer: viewer, queue: make(chan delivery, h.cfg.ClientQueue),
		counts: make(chan []byte, 1), cut: make(chan struct{})}
	if lastErr != nil {
		return c, h.goLive(c, resyncUnknown), h.closedErr()
	}
	if last == nil {
		return c, h.goLive(c, ""), h.closedErr()
	}
	h.mu.RLock()
	ahead := !h.pos.covers(last)
	h.mu.RUnlock()
	if ahead {
		// The client was served by a process further along the topic, or
		// its id is from another topic: only the broker can tell.
		ends, err := h.cfg.Source.Ends(ctx)
		if err != nil {
			return nil, opening{}, fmt.Errorf("stream: end offsets: %w: %w", gateway.ErrUnavailable, err)
		}
		if !position(ends).covers(last) {
			return c, h.goLive(c, resyncUnknown), h.closedErr()
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, opening{}, ErrClosed
	}
	for part := range last {
		if _, ok := h.pos[part]; !ok {
			return c, h.goLiveLocked(c, resyncUnknown), nil
		}
	}
	if !last.covers(h.floor) {
		return c, h.goLiveLocked(c, resyncGap), nil
	}
	c.next = h.startLocked(last)
	c.floor = maps.Clone(last)
	subscribed.Inc()
	return c, opening{resumed: true}, nil
}

func (h *Hub) closedErr() error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return ErrClosed
	}
	return nil
}

func (h *Hub) goLive(c *client, resync string) opening {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return opening{}
	}
	subscribed.Inc()
	return h.goLiveLocked(c, resync)
}

// goLiveLocked makes c a live client from now on, with its counts.
func (h *Hub) goLiveLocked(c *client, resync string) opening {
	c.live, c.floor = true, nil
	c.next = h.headLocked()
	h.clients[c] = struct{}{}
	h.offerCountsLocked(c)
	if resync != "" {
		resyncs.WithLabelValues(resync).Inc()
	}
	return opening{resync: resync, id: h.pos.encode()}
}

// catchUp limits, per call, how much of the history a resumed client scans
// and is handed, so it never holds the hub for long.
const (
	catchUpScan = 4096
	catchUpHand = 256
)

// catchUp returns the next events of a resumed client from the history.
// Once it reaches the head, the client is live (live true): later events
// reach it by fan-out. A client whose next event was trimmed meanwhile is
// made live with a resync instead (gap set). A hub that stopped returns
// nothing and not live: the client's cut channel is closed.
func (h *Hub) catchUp(c *client) (ds []delivery, live bool, gap *opening) {
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return nil, false, nil
	}
	ds, ok := h.scanLocked(c, nil)
	atHead := ok && c.next == h.headLocked()
	h.mu.RUnlock()
	if ok && !atHead {
		return ds, false, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, nil
	}
	if ds, ok = h.scanLocked(c, ds); !ok {
		op := h.goLiveLocked(c, resyncGap)
		return nil, true, &op
	}
	if c.next != h.headLocked() {
		return ds, false, nil
	}
	c.live = true
	h.clients[c] = struct{}{}
	h.offerCountsLocked(c)
	return ds, true, nil
}

// scanLocked appends c's deliveries from its cursor; false when the
// history no longer holds the cursor's event.
func (h *Hub) scanLocked(c *client, ds []delivery) ([]delivery, bool) {
	if c.next < h.base {
		return ds, false
	}
	for scanned := 0; c.next < h.headLocked() && scanned < catchUpScan && len(ds) < catchUpHand; scanned++ {
		e := h.at(c.next)
		c.next++
		if d, ok := c.decide(e); ok {
			ds = append(ds, d)
		}
	}
	return ds, true
}

// unsubscribe removes c.
func (h *Hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// setViewer changes what c may see, from its next event on.
func (h *Hub) setViewer(c *client, v Viewer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.viewer = v
	if c.live {
		h.offerCountsLocked(c)
	}
	resyncs.WithLabelValues(resyncScope).Inc()
}

// headID is the id of the position right after the last record read.
func (h *Hub) headID() string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.pos.encode()
}

// Ready is closed once the hub knows where it started on the topic.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Done is closed once the hub has stopped.
func (h *Hub) Done() <-chan struct{} { return h.done }
