package stream

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	clientsConnected = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatgate_stream_clients",
		Help: "Clients connected to GET /v1/stream.",
	})
	subscribed = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatgate_stream_subscriptions_total",
		Help: "Streams opened, fresh or resumed.",
	})
	resyncs = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_stream_resyncs_total",
		Help: "Resync events sent, by reason (gap, unknown_id, slow_client, scope_changed).",
	}, []string{"reason"})
	cutClients = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_stream_cut_clients_total",
		Help: "Clients the hub closed, by reason (slow_client, shutdown).",
	}, []string{"reason"})
	eventsSent = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "chatgate_stream_events_sent_total",
		Help: "SSE events written to clients, by event name.",
	}, []string{"event"})
	countQueries = promauto.NewCounter(prometheus.CounterOpts{
		Name: "chatgate_stream_count_queries_total",
		Help: "Queue count queries run for queue.counts (one per debounce window).",
	})
	historyEvents = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatgate_stream_history_events",
		Help: "Events the hub keeps for resumption.",
	})
	historyBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "chatgate_stream_history_bytes",
		Help: "Approximate memory of the kept events.",
	})
)

// Resolved once: the event counters are on the hot path.
var (
	sentTicket       = eventsSent.WithLabelValues(eventTicket)
	sentRemoved      = eventsSent.WithLabelValues(eventRemoved)
	sentNotification = eventsSent.WithLabelValues(eventNotification)
	sentCounts       = eventsSent.WithLabelValues(eventCounts)
)

// observeLocked publishes the history's gauges. Several hubs in one
// process (tests) share them: the last to ingest wins.
func (h *Hub) observeLocked() {
	historyEvents.Set(float64(len(h.hist)))
	historyBytes.Set(float64(h.bytes))
}
