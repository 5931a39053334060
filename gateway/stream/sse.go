package stream

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// sseWriter writes server-sent events (the WHATWG "text/event-stream"
// format) to one response. The first failed write ends the stream: later
// writes are dropped and flush reports it.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	until   time.Time // the write deadline set on the connection
	head    []byte    // reused for the field lines
	err     error
}

// endOfEvent is the blank line that ends an event.
var endOfEvent = []byte("\n\n")

// last bounds the writes of a stream's last words by d.
func (s *sseWriter) last(d time.Duration) {
	s.timeout = d
	s.deadline(d)
}

// deadline sets how long the writes from now may take.
func (s *sseWriter) deadline(d time.Duration) {
	s.until = time.Now().Add(d)
	if err := s.rc.SetWriteDeadline(s.until); err != nil && !errors.Is(err, http.ErrNotSupported) && s.err == nil {
		s.err = err
	}
}

func (s *sseWriter) write(b []byte) {
	if s.err != nil {
		return
	}
	// Setting a deadline costs a timer update: a write gets between half
	// of WriteTimeout and all of it.
	if time.Until(s.until) < s.timeout/2 {
		s.deadline(s.timeout)
	}
	if _, err := s.w.Write(b); err != nil {
		s.err = err
	}
}

// event writes one event; id "" leaves the client's last event id as it is.
// data must hold no line break (JSON without indentation has none).
func (s *sseWriter) event(id, name string, data []byte) {
	s.head = s.head[:0]
	if id != "" {
		s.head = append(append(append(s.head, "id: "...), id...), '\n')
	}
	s.head = append(append(append(s.head, "event: "...), name...), "\ndata: "...)
	s.write(s.head)
	s.write(data)
	s.write(endOfEvent)
}

// comment writes a comment line, which clients ignore: a heartbeat.
func (s *sseWriter) comment(text string) {
	s.head = append(append(append(s.head[:0], ": "...), text...), endOfEvent...)
	s.write(s.head)
}

// retry tells the client how long to wait before it reconnects.
func (s *sseWriter) retry(d time.Duration) {
	s.head = strconv.AppendInt(append(s.head[:0], "retry: "...), d.Milliseconds(), 10)
	s.head = append(s.head, endOfEvent...)
	s.write(s.head)
}

// resync tells the client to reload its lists over the desk API and go on
// from id.
func (s *sseWriter) resync(id, reason string) {
	s.event(id, eventResync, []byte(`{"reason":"`+reason+`"}`))
}

// deliver writes what d says of its event for the client of agent.
func (s *sseWriter) deliver(d delivery, agent string) {
	e := d.e
	if d.what&sendTicket != 0 {
		s.event(e.id, eventTicket, e.data)
		sentTicket.Inc()
	}
	if d.what&sendRemoved != 0 {
		s.event(e.id, eventRemoved, e.removed)
		sentRemoved.Inc()
	}
	if d.what&sendNotice != 0 {
		for _, n := range e.notices {
			if n.agent == agent {
				s.event(e.id, eventNotification, n.data)
				sentNotification.Inc()
			}
		}
	}
}

// flush sends what was written and reports the first failure.
func (s *sseWriter) flush() error {
	if s.err == nil {
		if time.Until(s.until) < s.timeout/2 {
			s.deadline(s.timeout)
		}
		if s.err == nil {
			s.err = s.rc.Flush()
		}
	}
	return s.err
}
