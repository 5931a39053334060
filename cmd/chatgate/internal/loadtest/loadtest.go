// Package loadtest is `chatgate bench`'s load generator and its
// measurements: it pushes messages through the API channel of a running
// chatgate and times each from the HTTP accept to its message_added event
// on the tickets topic, writes the same number of records straight to the
// inbound topic, and measures the machine's raw limits (PostgreSQL batched
// inserts, broker produce) in the same run. It uses only chatgate's
// exported APIs and its outside interface; the command in cmd/chatgate
// starts the private chatgate it runs against.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
)

// Writes one inbound message costs at steady state, used to turn the raw
// limits into a message rate: PostgreSQL rows (the message, its
// message_added outbox row, and marking that row published; contact and
// conversation updates are one per contact per batch and left out) and
// Kafka records (the inbound record and the ticket event).
const (
	pgRowsPerMessage       = 3
	kafkaRecordsPerMessage = 2
)

// Options say what to push at which running chatgate.
type Options struct {
	// Messages is how many messages to post, from Contacts distinct
	// contacts, by Concurrency concurrent HTTP clients.
	Messages    int
	Concurrency int
	Contacts    int
	// RawRecords is how many rows and records each raw-limit measurement
	// writes.
	RawRecords int
	// Target is the chatgate's base URL and Token its API-channel token;
	// Brokers and Topics its Kafka, where the message_added events are
	// awaited; DBURL its PostgreSQL, for the raw insert measurement ("":
	// not measured).
	Target  string
	Token   string
	Brokers []string
	Topics  gateway.Topics
	DBURL   string
}

// Result is what one run measured.
type Result struct {
	Messages       int
	Accepted       time.Duration // first post to last 202
	EndToEnd       time.Duration // first post to last message_added event
	AcceptLatency  Latencies
	EventLatency   Latencies
	PGRowsPerSec   float64
	KafkaRecPerSec float64
	// Direct is the same number of messages written straight to the
	// inbound topic: the worker and relay without the HTTP ingress.
	Direct        time.Duration
	DirectLatency Latencies
}

// Latencies are the median, 99th percentile and largest of a set of
// latencies.
type Latencies struct{ P50, P99, Max time.Duration }

// percentiles sorts ds and returns its Latencies.
func percentiles(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Latencies{P50: at(0.50), P99: at(0.99), Max: ds[len(ds)-1]}
}

// Rate is the end-to-end message rate: messages per second from the first
// post to the last message_added event.
func (r Result) Rate() float64 { return float64(r.Messages) / r.EndToEnd.Seconds() }

// RawLimit is the message rate the machine's raw write limits allow.
func (r Result) RawLimit() float64 {
	return min(r.PGRowsPerSec/pgRowsPerMessage, r.KafkaRecPerSec/kafkaRecordsPerMessage)
}

// Print writes the report `chatgate bench` prints.
func (r Result) Print(w io.Writer) {
	fmt.Fprintf(w, "messages            %d\n", r.Messages)
	fmt.Fprintf(w, "accepted (HTTP 202) %.0f msg/s  p50 %v  p99 %v  max %v\n",
		float64(r.Messages)/r.Accepted.Seconds(), r.AcceptLatency.P50, r.AcceptLatency.P99, r.AcceptLatency.Max)
	fmt.Fprintf(w, "end to end          %.0f msg/s  p50 %v  p99 %v  max %v  (API accept → message_added on tickets)\n",
		r.Rate(), r.EventLatency.P50, r.EventLatency.P99, r.EventLatency.Max)
	if r.Direct > 0 {
		fmt.Fprintf(w, "worker capacity     %.0f msg/s  p50 %v  p99 %v  (records written straight to inbound → message_added; no HTTP)\n",
			float64(r.Messages)/r.Direct.Seconds(), r.DirectLatency.P50, r.DirectLatency.P99)
	}
	fmt.Fprintf(w, "raw: postgres       %.0f rows/s (1,000-row batched inserts per transaction)\n", r.PGRowsPerSec)
	fmt.Fprintf(w, "raw: kafka produce  %.0f records/s (200-byte records, acks=all, 1,000 per write)\n", r.KafkaRecPerSec)
	fmt.Fprintf(w, "raw limit per msg   %.0f msg/s (%d rows and %d records per message)\n", r.RawLimit(), pgRowsPerMessage, kafkaRecordsPerMessage)
	fmt.Fprintf(w, "ratio               %.2f of the raw limit\n", r.Rate()/r.RawLimit())
}

// Run measures a running chatgate: the load through the API channel, the
// same load written straight to the inbound topic, and the raw limits. It
// writes what it is doing to progress.
func Run(ctx context.Context, opts Options, progress io.Writer) (Result, error) {
	if opts.Messages < 1 || opts.Concurrency < 1 || opts.Contacts < 1 {
		return Result{}, errors.New("loadtest: messages, concurrency and contacts must be at least 1")
	}
	fmt.Fprintf(progress, "pushing %d messages from %d contacts with %d clients…\n", opts.Messages, opts.Contacts, opts.Concurrency)
	res, err := PushLoad(ctx, opts)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(progress, "writing %d records straight to the inbound topic…\n", opts.Messages)
	if res.Direct, res.DirectLatency, err = pushDirect(ctx, opts); err != nil {
		return res, err
	}
	fmt.Fprintln(progress, "measuring raw limits…")
	if opts.DBURL != "" {
		if res.PGRowsPerSec, err = measurePostgres(ctx, opts.DBURL, opts.RawRecords); err != nil {
			return res, err
		}
	}
	if res.KafkaRecPerSec, err = measureKafka(ctx, opts.Brokers, opts.RawRecords); err != nil {
		return res, err
	}
	return res, nil
}

// tracker watches the tickets topic for the message_added events of one
// run and times each from when its message was handed over.
type tracker struct {
	run       string
	n         int
	sent      []atomic.Int64 // unix nanos each message was handed over
	lastEvent atomic.Int64
	Latencies []time.Duration
	done      chan error
	tail      *kafka.Tail
}

func newTracker(ctx context.Context, opts Options, run string) (*tracker, error) {
	tail, err := kafka.NewTail(ctx, opts.Brokers, opts.Topics.Name(gateway.TopicTickets), true)
	if err != nil {
		return nil, err
	}
	t := &tracker{run: run, n: opts.Messages, sent: make([]atomic.Int64, opts.Messages),
		Latencies: make([]time.Duration, 0, opts.Messages), done: make(chan error, 1), tail: tail}
	go t.watch(ctx)
	return t, nil
}

func (t *tracker) watch(ctx context.Context) {
	seen := make([]bool, t.n)
	got := 0
	for got < t.n {
		select {
		case m := <-t.tail.Messages():
			i, ok := benchIndex(m.Value, t.run)
			if !ok || i >= t.n || seen[i] {
				continue
			}
			now := time.Now()
			seen[i] = true
			got++
			t.Latencies = append(t.Latencies, now.Sub(time.Unix(0, t.sent[i].Load())))
			t.lastEvent.Store(now.UnixNano())
		case <-ctx.Done():
			t.done <- fmt.Errorf("bench: %d of %d events arrived before the timeout", got, t.n)
			return
		}
	}
	t.done <- nil
}

// wait returns once every event arrived; it closes the tail.
func (t *tracker) wait() error {
	defer t.tail.Close()
	return <-t.done
}

// PushLoad posts the messages and waits for their message_added events.
func PushLoad(ctx context.Context, opts Options) (Result, error) {
	run := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	tr, err := newTracker(ctx, opts, run)
	if err != nil {
		return Result{}, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: opts.Concurrency, MaxConnsPerHost: opts.Concurrency}}
	var next atomic.Int64
	acceptLat := make([][]time.Duration, opts.Concurrency)
	var wg sync.WaitGroup
	var postErr atomic.Value
	start := time.Now()
	for w := range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= opts.Messages || ctx.Err() != nil {
					return
				}
				body, _ := json.Marshal(map[string]string{
					"id": fmt.Sprintf("%s-%d", run, i), "from": fmt.Sprintf("+1555%07d", i%opts.Contacts), "text": "load test message " + run,
				})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, opts.Target+"/v1/channels/api/messages", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+opts.Token)
				t := time.Now()
				tr.sent[i].Store(t.UnixNano())
				resp, err := client.Do(req)
				if err != nil {
					postErr.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					postErr.Store(fmt.Errorf("post %d: HTTP %d", i, resp.StatusCode))
					return
				}
				acceptLat[w] = append(acceptLat[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	if err, _ := postErr.Load().(error); err != nil {
		tr.tail.Close()
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	if err := tr.wait(); err != nil {
		return Result{}, err
	}
	return Result{
		Messages:      opts.Messages,
		Accepted:      accepted,
		EndToEnd:      time.Unix(0, tr.lastEvent.Load()).Sub(start),
		AcceptLatency: percentiles(slices.Concat(acceptLat...)),
		EventLatency:  percentiles(tr.Latencies),
	}, nil
}

// pushDirect writes the inbound records straight to Kafka, 1,000 per
// write, and waits for their message_added events: the capacity of the
// worker and relay without the HTTP ingress in front of them.
func pushDirect(ctx context.Context, opts Options) (time.Duration, Latencies, error) {
	run := fmt.Sprintf("direct-%d", time.Now().UnixNano())
	tr, err := newTracker(ctx, opts, run)
	if err != nil {
		return 0, Latencies{}, err
	}
	const batch = 1000
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: opts.Brokers, BatchSize: batch})
	if err != nil {
		tr.tail.Close()
		return 0, Latencies{}, err
	}
	defer p.Close()
	start := time.Now()
	for done := 0; done < opts.Messages; done += batch {
		msgs := make([]gateway.Message, 0, batch)
		for i := done; i < min(done+batch, opts.Messages); i++ {
			in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: fmt.Sprintf("%s-%d", run, i),
				From: fmt.Sprintf("+1666%07d", i%opts.Contacts), Text: "load test message " + run, ReceivedAt: time.Now()}
			m, err := in.Record("chatgate/bench", opts.Topics.Name(gateway.TopicInbound))
			if err != nil {
				tr.tail.Close()
				return 0, Latencies{}, err
			}
			tr.sent[i].Store(time.Now().UnixNano())
			msgs = append(msgs, m)
		}
		if err := p.Publish(ctx, msgs...); err != nil {
			tr.tail.Close()
			return 0, Latencies{}, fmt.Errorf("bench: direct produce: %w", err)
		}
	}
	if err := tr.wait(); err != nil {
		return 0, Latencies{}, err
	}
	return time.Unix(0, tr.lastEvent.Load()).Sub(start), percentiles(tr.Latencies), nil
}

// benchIndex returns the message number of a message_added event of run.
func benchIndex(value []byte, run string) (int, bool) {
	// Only the fields needed: the load generator shares the CPU with chatgate.
	type slim struct {
		Message *struct {
			ProviderID string `json:"provider_id"`
		} `json:"message"`
	}
	ev, data, err := gateway.DecodeRecord[slim](value)
	if err != nil || ev.Type != gateway.TypeTicketMessageAdded || data.Message == nil {
		return 0, false
	}
	var i int
	if _, err := fmt.Sscanf(data.Message.ProviderID, run+"-%d", &i); err != nil {
		return 0, false
	}
	return i, true
}

// measurePostgres inserts rows in transactions of 1,000 (one multi-row
// statement each, the shape the worker uses) into a scratch table.
func measurePostgres(ctx context.Context, url string, rows int) (float64, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	table := pgx.Identifier{fmt.Sprintf("bench_raw_%d", time.Now().UnixNano())}.Sanitize()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (id bigint PRIMARY KEY, k text, v bytea, at timestamptz)`); err != nil {
		return 0, fmt.Errorf("raw postgres: %w", err)
	}
	defer pool.Exec(context.WithoutCancel(ctx), `DROP TABLE `+table) //nolint:errcheck // scratch table
	const batch = 1000
	payload := bytes.Repeat([]byte("x"), 200)
	ids, keys, vals, ats := make([]int64, batch), make([]string, batch), make([][]byte, batch), make([]time.Time, batch)
	start := time.Now()
	for done := 0; done < rows; done += batch {
		for j := range batch {
			ids[j], keys[j], vals[j], ats[j] = int64(done+j), fmt.Sprintf("api:+1555%07d", j), payload, start
		}
		if _, err := pool.Exec(ctx, `INSERT INTO `+table+` SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::timestamptz[])`,
			ids, keys, vals, ats); err != nil {
			return 0, fmt.Errorf("raw postgres: %w", err)
		}
	}
	return float64(rows) / time.Since(start).Seconds(), nil
}

// measureKafka produces 200-byte records in writes of 1,000 to a scratch topic.
func measureKafka(ctx context.Context, brokers []string, records int) (float64, error) {
	topic := fmt.Sprintf("chatgate-bench-raw-%d", time.Now().UnixNano())
	if err := kafka.EnsureTopics(ctx, brokers, []string{topic}, 8, 1); err != nil {
		return 0, fmt.Errorf("raw kafka: %w", err)
	}
	const batch = 1000
	p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: brokers, BatchSize: batch})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	value := bytes.Repeat([]byte("x"), 200)
	msgs := make([]gateway.Message, batch)
	start := time.Now()
	for done := 0; done < records; done += batch {
		for j := range msgs {
			msgs[j] = gateway.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", j), Value: value}
		}
		if err := p.Publish(ctx, msgs...); err != nil {
			return 0, fmt.Errorf("raw kafka: %w", err)
		}
	}
	return float64(records) / time.Since(start).Seconds(), nil
}
