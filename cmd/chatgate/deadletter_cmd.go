package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/kafka"
)

// newDeadletterCmd is `chatgate deadletter …`: inspect what was
// dead-lettered and publish it again once the cause is fixed
// (docs/deadletter.md).
func newDeadletterCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deadletter",
		Short: "List and replay dead-lettered records",
		Long: `Inspect the records chatgate dead-lettered (docs/deadletter.md) and replay them once the
cause is fixed.

The brokers are --brokers, else CHATGATE_KAFKA_BROKERS, else the embedded broker: the one a
running 'chatgate run' serves on CHATGATE_EMBEDDED_KAFKA_ADDR, or, when chatgate is not
running, one started on CHATGATE_DATA_DIR for the duration of the command.`,
		Args: cobra.NoArgs,
	}
	withKafka := brokersFlag(cmd, stderr)
	cmd.AddCommand(newDeadletterListCmd(stdout, stderr, withKafka), newDeadletterReplayCmd(stdout, stderr, withKafka))
	return cmd
}

// cliKafka is the Kafka a CLI command works on, and what to stop when it
// is done.
type cliKafka struct {
	brokers []string
	topics  gateway.Topics
	broker  *devstack.Broker // started by this command, or nil
}

func (k *cliKafka) close() {
	if k.broker != nil {
		_ = k.broker.Close()
	}
}

// kafkaRunner runs a CLI command's work with its Kafka.
type kafkaRunner func(cmd *cobra.Command, fn func(ctx context.Context, k *cliKafka) error) error

// brokersFlag adds --brokers to cmd and returns a runner that finds the
// brokers (see openKafka) and runs fn with them.
func brokersFlag(cmd *cobra.Command, stderr io.Writer) kafkaRunner {
	var brokers string
	cmd.PersistentFlags().StringVar(&brokers, "brokers", "", "comma-separated Kafka brokers (default CHATGATE_KAFKA_BROKERS, else the embedded broker)")
	return func(cmd *cobra.Command, fn func(context.Context, *cliKafka) error) error {
		ctx := cmd.Context()
		connectCtx, cancel := context.WithTimeout(ctx, cliConnectTimeout)
		k, err := openKafka(connectCtx, brokers, stderr)
		cancel()
		if err != nil {
			return err
		}
		defer k.close()
		return fn(ctx, k)
	}
}

// openKafka finds the brokers: flag, else CHATGATE_KAFKA_BROKERS, else the
// embedded broker, attached to when it answers, otherwise started on the
// data directory (so dead letters can be read and replayed while chatgate
// is stopped; the next `chatgate run` handles the replayed records).
func openKafka(ctx context.Context, flag string, stderr io.Writer) (*cliKafka, error) {
	cfg, err := loadConfig(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	k := &cliKafka{topics: gateway.Topics{Prefix: cfg.TopicPrefix}}
	switch {
	case strings.TrimSpace(flag) != "":
		k.brokers = kafka.ParseBrokers(flag)
	case !cfg.embeddedKafka():
		k.brokers = cfg.Brokers
	default:
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, derr := d.DialContext(dctx, "tcp", cfg.EmbeddedKafkaAddr)
		cancel()
		if derr == nil {
			_ = conn.Close()
			k.brokers = []string{cfg.EmbeddedKafkaAddr}
			break
		}
		k.broker, err = devstack.StartBroker(devstack.BrokerConfig{
			Addr: "127.0.0.1:0", DataDir: cfg.dataPath("kafka"), Topics: k.topics.All(),
			Partitions: int32(cfg.Partitions), Logger: newLogger(stderr, "warn"),
		})
		if err != nil {
			return nil, fmt.Errorf("no broker answers on %s (CHATGATE_EMBEDDED_KAFKA_ADDR) and the embedded one cannot start: %w\n(pass --brokers or set CHATGATE_KAFKA_BROKERS)", cfg.EmbeddedKafkaAddr, err)
		}
		k.brokers = []string{k.broker.Addr()}
	}
	if err := kafka.Ping(ctx, k.brokers, k.topics.Name(gateway.TopicDeadletter)); err != nil {
		k.close()
		return nil, fmt.Errorf("kafka %s: %w", strings.Join(k.brokers, ","), err)
	}
	return k, nil
}

// deadletterEntry is one dead letter as list shows it: where it is on the
// deadletter topic, its envelope, and its data.
type deadletterEntry struct {
	ID                  string    `json:"id"`
	Time                time.Time `json:"time"`
	Source              string    `json:"source"`
	DeadletterPartition int       `json:"deadletter_partition"`
	DeadletterOffset    int64     `json:"deadletter_offset"`
	gateway.Deadletter
}

// readDeadletters calls fn with each chatgate.deadletter record of the
// ranges (nil: the whole topic) and returns how many other records it
// skipped.
func readDeadletters(ctx context.Context, k *cliKafka, ranges []kafka.OffsetRange, fn func(deadletterEntry) error) (skipped int, err error) {
	err = kafka.ReadTopic(ctx, k.brokers, k.topics.Name(gateway.TopicDeadletter), ranges, func(m gateway.Message) error {
		ev, d, err := gateway.DecodeRecord[gateway.Deadletter](m.Value)
		if err != nil || ev.Type != gateway.TypeDeadletter {
			skipped++
			return nil
		}
		return fn(deadletterEntry{ID: ev.ID, Time: ev.Time, Source: ev.Source, DeadletterPartition: m.Partition, DeadletterOffset: m.Offset, Deadletter: d})
	})
	return skipped, err
}

// parseSince reads --since: a duration back from now (24h) or a time
// (RFC 3339, or a date).
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErrorf("--since %q: want a duration (24h) or a time (2026-12-03T10:00:00Z, 2026-12-03)", s)
}

func newDeadletterListCmd(stdout, stderr io.Writer, withKafka kafkaRunner) *cobra.Command {
	var asJSON bool
	var since, source, topic string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters: id, time, source, original topic/partition/offset, reason",
		Long: `List the dead letters on the deadletter topic, oldest first: the newest --limit of those
that match the filters. AT is the dead letter's own partition:offset on the deadletter topic
(what 'replay --partition/--from-offset' take); TOPIC, PARTITION and OFFSET say where the
original record was read ("-" for a provider message refused before it reached Kafka).
--json prints every field, the original key and value included, as a JSON array.`,
		Example: `  chatgate deadletter list --since 24h
  chatgate deadletter list --source chatgate/worker --json | jq '.[].reason'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var from time.Time
			if since != "" {
				var err error
				if from, err = parseSince(since, time.Now()); err != nil {
					return err
				}
			}
			if limit < 0 {
				return usageErrorf("--limit %d: want 0 (all) or more", limit)
			}
			return withKafka(cmd, func(ctx context.Context, k *cliKafka) error {
				var entries []deadletterEntry
				skipped, err := readDeadletters(ctx, k, nil, func(e deadletterEntry) error {
					if e.Time.Before(from) || (source != "" && e.Source != source) || (topic != "" && e.Topic != topic) {
						return nil
					}
					entries = append(entries, e)
					return nil
				})
				if err != nil {
					return err
				}
				slices.SortStableFunc(entries, func(a, b deadletterEntry) int { return a.Time.Compare(b.Time) })
				total := len(entries)
				if limit > 0 && total > limit {
					entries = entries[total-limit:]
					fmt.Fprintf(stderr, "showing the newest %d of %d dead letters (--limit 0 shows all)\n", limit, total)
				}
				if skipped > 0 {
					fmt.Fprintf(stderr, "skipped %d records of %s that are not chatgate.deadletter records\n", skipped, k.topics.Name(gateway.TopicDeadletter))
				}
				if asJSON {
					if entries == nil {
						entries = []deadletterEntry{}
					}
					return writeJSONTo(stdout, entries)
				}
				return printDeadletters(stdout, entries)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the dead letters as a JSON array, key and value included")
	f.StringVar(&since, "since", "", "only dead letters since this time (2026-12-03T10:00:00Z) or this long ago (24h)")
	f.IntVar(&limit, "limit", 100, "show the newest N of the matching dead letters (0: all)")
	f.StringVar(&source, "source", "", "only from this source (chatgate/ticketing, chatgate/worker, chatgate/channels/whatsapp)")
	f.StringVar(&topic, "topic", "", "only those whose original topic is this (e.g. chatgate.inbound)")
	return cmd
}

func printDeadletters(w io.Writer, entries []deadletterEntry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tID\tTIME\tSOURCE\tTOPIC\tPARTITION\tOFFSET\tREASON")
	for _, e := range entries {
		topic, part, off := "-", "-", "-"
		if e.Topic != "" {
			topic, part, off = e.Topic, strconv.Itoa(e.Partition), strconv.FormatInt(e.Offset, 10)
		}
		reason := strings.Join(strings.Fields(e.Reason), " ")
		if r := []rune(reason); len(r) > 160 {
			reason = string(r[:159]) + "…"
		}
		fmt.Fprintf(tw, "%d:%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.DeadletterPartition, e.DeadletterOffset, e.ID,
			e.Time.UTC().Format(time.RFC3339), e.Source, topic, part, off, reason)
	}
	return tw.Flush()
}

func newDeadletterReplayCmd(stdout, stderr io.Writer, withKafka kafkaRunner) *cobra.Command {
	var ids []string
	var partition int
	var fromOffset, toOffset int64
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "replay (--id ID ... | [--partition P] [--from-offset N] [--to-offset M])",
		Short: "Publish dead-lettered records again, to their original topics",
		Long: `Publish dead-lettered records again, with their original key and value, to their original
topic, once the cause is fixed: the dead letters named by --id (repeatable), or those at
offsets --from-offset to --to-offset (inclusive; default the first and the last) of one
partition of the deadletter topic (--partition, required when it has several).

A provider message refused before it reached Kafka (no original topic) goes to the inbound
topic when its value is an inbound record; anything else that cannot be replayed is named,
and then nothing is replayed. Replaying is idempotent: the worker stores an inbound message
once per provider id, applies a desk command once per request id and a delivery status only
forward, so replaying twice stores nothing twice. A record that fails again is dead-lettered
again. --dry-run says what would be replayed.`,
		Example: `  chatgate deadletter replay --id deadletter:chatgate.inbound:3:1041 --dry-run
  chatgate deadletter replay --partition 3 --from-offset 17 --to-offset 40`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			byID := len(ids) > 0
			for _, id := range ids {
				if strings.TrimSpace(id) == "" {
					return usageErrorf("--id: empty")
				}
			}
			switch {
			case byID && (cmd.Flags().Changed("partition") || cmd.Flags().Changed("from-offset") || cmd.Flags().Changed("to-offset")):
				return usageErrorf("--id replays the dead letters it names: it does not go with --partition, --from-offset or --to-offset")
			case !byID && !cmd.Flags().Changed("partition") && !cmd.Flags().Changed("from-offset") && !cmd.Flags().Changed("to-offset"):
				return usageErrorf("say what to replay: --id, or --partition/--from-offset/--to-offset")
			case fromOffset < 0:
				return usageErrorf("--from-offset %d: want an offset ≥ 0", fromOffset)
			case cmd.Flags().Changed("to-offset") && toOffset < fromOffset:
				return usageErrorf("--to-offset %d is before --from-offset %d", toOffset, fromOffset)
			}
			return withKafka(cmd, func(ctx context.Context, k *cliKafka) error {
				var ranges []kafka.OffsetRange
				if !byID {
					r, err := replayRange(ctx, k, cmd.Flags().Changed("partition"), partition, fromOffset, toOffset)
					if err != nil {
						return err
					}
					ranges = []kafka.OffsetRange{r}
				}
				entries, err := selectDeadletters(ctx, k, ranges, ids)
				if err != nil {
					return err
				}
				return replay(ctx, stdout, stderr, k, entries, dryRun)
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&ids, "id", nil, "id of a dead letter to replay (the ID column of list); repeatable")
	f.IntVar(&partition, "partition", 0, "partition of the deadletter topic the offsets are in (the first number of AT)")
	f.Int64Var(&fromOffset, "from-offset", 0, "first offset on the deadletter topic to replay (the second number of AT)")
	f.Int64Var(&toOffset, "to-offset", -1, "last offset to replay, inclusive (default: the last one)")
	f.BoolVar(&dryRun, "dry-run", false, "say what would be replayed without publishing anything")
	return cmd
}

// replayRange checks the partition of a range replay against the
// deadletter topic: it must exist, and be given when there are several.
func replayRange(ctx context.Context, k *cliKafka, given bool, partition int, from, to int64) (kafka.OffsetRange, error) {
	topic := k.topics.Name(gateway.TopicDeadletter)
	parts, err := kafka.Partitions(ctx, k.brokers, topic)
	if err != nil {
		return kafka.OffsetRange{}, err
	}
	switch {
	case !given && len(parts) == 1:
		partition = parts[0]
	case !given:
		return kafka.OffsetRange{}, usageErrorf("--partition is required: %s has %d partitions (AT in list is partition:offset)", topic, len(parts))
	case !slices.Contains(parts, partition):
		return kafka.OffsetRange{}, usageErrorf("--partition %d: %s has partitions 0 to %d", partition, topic, len(parts)-1)
	}
	return kafka.OffsetRange{Partition: partition, From: from, To: to}, nil
}

// selectDeadletters reads the dead letters to replay: those of ranges, or,
// with ids, those named (all of them must exist). A dead letter written
// twice (its component retried) is replayed once.
func selectDeadletters(ctx context.Context, k *cliKafka, ranges []kafka.OffsetRange, ids []string) ([]deadletterEntry, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	seen := map[string]bool{}
	var entries []deadletterEntry
	_, err := readDeadletters(ctx, k, ranges, func(e deadletterEntry) error {
		if seen[e.ID] || (len(want) > 0 && !want[e.ID]) {
			return nil
		}
		seen[e.ID] = true
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		if !seen[id] && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("nothing replayed: no dead letter %s on %s", strings.Join(missing, ", "), k.topics.Name(gateway.TopicDeadletter))
	}
	return entries, nil
}

// replay publishes the entries' original records, or says it would; if
// one cannot be replayed, none is.
func replay(ctx context.Context, stdout, stderr io.Writer, k *cliKafka, entries []deadletterEntry, dryRun bool) error {
	inbound, dl := k.topics.Name(gateway.TopicInbound), k.topics.Name(gateway.TopicDeadletter)
	recs := make([]gateway.Message, 0, len(entries))
	var refused []error
	for _, e := range entries {
		rec, err := e.ReplayRecord(inbound, dl)
		if err != nil {
			refused = append(refused, fmt.Errorf("%s: %w", e.ID, err))
			continue
		}
		recs = append(recs, rec)
	}
	if len(refused) > 0 {
		for _, err := range refused {
			fmt.Fprintf(stderr, "cannot replay %v\n", err)
		}
		return fmt.Errorf("nothing replayed: %d of the %d selected dead letters cannot be replayed (select the others by --id)", len(refused), len(entries))
	}
	if dryRun {
		for i, e := range entries {
			fmt.Fprintf(stdout, "would replay %s to %s\n", e.ID, recs[i].Topic)
		}
		fmt.Fprintf(stdout, "%d dead letters would be replayed\n", len(entries))
		return nil
	}
	if len(recs) > 0 {
		p, err := kafka.NewProducer(kafka.ProducerConfig{Brokers: k.brokers, BatchSize: len(recs)})
		if err != nil {
			return err
		}
		// One call keeps the records of one key in their dead-letter order.
		err = p.Publish(ctx, recs...)
		if cerr := p.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("replay: %w (some records may have been published; replaying again is safe)", err)
		}
	}
	for i, e := range entries {
		fmt.Fprintf(stdout, "replayed %s to %s\n", e.ID, recs[i].Topic)
	}
	fmt.Fprintf(stdout, "%d dead letters replayed\n", len(entries))
	return nil
}
