package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/deadletter"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// runChatgate runs chatgate ARGS through the root command, as main does.
func runChatgate(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = execute(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustRunChatgate(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runChatgate(t, args...)
	if err != nil {
		t.Fatalf("chatgate %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// listDeadletters runs `chatgate deadletter list --json` against brokers.
func listDeadletters(t *testing.T, brokers []string, args ...string) []deadletterEntry {
	t.Helper()
	out := mustRunChatgate(t, append([]string{"deadletter", "list", "--json", "--brokers", strings.Join(brokers, ",")}, args...)...)
	var entries []deadletterEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	return entries
}

// A bug-like condition (a trigger refusing one provider id, as a
// constraint the code did not know would) makes the worker dead-letter an
// acknowledged message. It is visible (list, metric), and once the bug is
// gone, replaying it stores it; replaying it again, by id or by offset
// range, stores nothing twice (R1).
func TestR1_DeadLetterReplayStoresOnceEvenWhenReplayedTwice(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	s := startStack(t, brokers, pgtest.URL(t))
	ctx := context.Background()
	if _, err := s.app.pool.Exec(ctx, `
		CREATE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.provider_id LIKE 'poison-%' THEN
				RAISE EXCEPTION 'a bug refuses %', NEW.provider_id USING ERRCODE = 'check_violation';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER test_refuse_poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION test_refuse_poison();`); err != nil {
		t.Fatal(err)
	}
	s.mustPost(t, apiMessage{ID: "good-1", From: "+15550001001", Text: "fine"})
	s.mustPost(t, apiMessage{ID: "poison-1", From: "+15550001002", Text: "refused by the bug"}) // 202: acknowledged
	s.mustPost(t, apiMessage{ID: "good-2", From: "+15550001001", Text: "fine too"})

	var entries []deadletterEntry
	testkit.WaitFor(t, 60*time.Second, "the poison record on the deadletter topic", func() bool {
		entries = listDeadletters(t, brokers)
		return len(entries) > 0
	})
	dl := entries[0]
	if len(entries) != 1 || dl.Source != deadletterSource || dl.Topic != s.app.topics.Name(gateway.TopicInbound) ||
		!strings.Contains(dl.Reason, "a bug refuses poison-1") || dl.ID != fmt.Sprintf("deadletter:%s:%d:%d", dl.Topic, dl.Partition, dl.Offset) ||
		dl.Key != "api:+15550001002" || !strings.Contains(dl.Value, `"provider_id":"poison-1"`) {
		t.Fatalf("dead letters: %+v", entries)
	}
	if n := dbCount(t, s, `SELECT count(*) FROM messages WHERE provider_id LIKE 'good-%'`); n != 2 {
		t.Fatalf("good messages stored = %d, want 2: the poison record must not hold its neighbours", n)
	}
	// The metric and the table list show it too.
	metric := regexp.MustCompile(`chatgate_deadletter_records_total\{source="chatgate/worker",topic="chatgate.inbound"\} ([0-9.e+]+)`)
	if m := metric.FindStringSubmatch(getBody(t, s.base+"/metrics")); m == nil || m[1] == "0" {
		t.Fatalf("/metrics does not count the dead letter (%v)", m)
	}
	table := mustRunChatgate(t, "deadletter", "list", "--brokers", brokers[0])
	if !strings.Contains(table, dl.ID) || !strings.Contains(table, fmt.Sprintf("%d:%d", dl.DeadletterPartition, dl.DeadletterOffset)) ||
		!strings.HasPrefix(table, "AT ") || !strings.Contains(table, "a bug refuses poison-1") {
		t.Fatalf("list:\n%s", table)
	}

	// While the bug is there, a dry run says what it would do, and does nothing.
	inboundBefore := countTopic(t, brokers, gateway.TopicInbound)
	out := mustRunChatgate(t, "deadletter", "replay", "--brokers", brokers[0], "--id", dl.ID, "--dry-run")
	if out != "would replay "+dl.ID+" to chatgate.inbound\n1 dead letters would be replayed\n" {
		t.Fatalf("dry run: %q", out)
	}
	if n := countTopic(t, brokers, gateway.TopicInbound); n != inboundBefore {
		t.Fatalf("a dry run published: inbound %d → %d", inboundBefore, n)
	}

	if _, err := s.app.pool.Exec(ctx, `DROP TRIGGER test_refuse_poison ON messages`); err != nil {
		t.Fatal(err)
	}
	out = mustRunChatgate(t, "deadletter", "replay", "--brokers", brokers[0], "--id", dl.ID, "--id", dl.ID)
	if out != "replayed "+dl.ID+" to chatgate.inbound\n1 dead letters replayed\n" {
		t.Fatalf("replay: %q", out)
	}
	testkit.WaitFor(t, 30*time.Second, "the replayed message stored", func() bool {
		return dbCount(t, s, `SELECT count(*) FROM messages WHERE provider_id = 'poison-1'`) == 1
	})

	// Again, by the dead letter's offset range; then a marker from the same
	// contact, handled after the replay on the contact's partition.
	mustRunChatgate(t, "deadletter", "replay", "--brokers", brokers[0], "--partition", fmt.Sprint(dl.DeadletterPartition),
		"--from-offset", fmt.Sprint(dl.DeadletterOffset), "--to-offset", fmt.Sprint(dl.DeadletterOffset))
	s.mustPost(t, apiMessage{ID: "marker-1", From: "+15550001002", Text: "after the replays"})
	testkit.WaitFor(t, 30*time.Second, "the marker stored", func() bool {
		return dbCount(t, s, `SELECT count(*) FROM messages WHERE provider_id = 'marker-1'`) == 1
	})
	if n := countTopic(t, brokers, gateway.TopicInbound); n != inboundBefore+3 {
		t.Fatalf("inbound topic grew by %d records, want the two replays and the marker", n-inboundBefore)
	}
	if n := dbCount(t, s, `SELECT count(*) FROM messages WHERE provider_id = 'poison-1'`); n != 1 {
		t.Fatalf("the twice-replayed message is stored %d times, want once", n)
	}
	if n := len(listDeadletters(t, brokers)); n != 1 {
		t.Fatalf("%d dead letters after the replays, want still the one", n)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A provider message an adapter refused before it reached Kafka has no
// original topic: it is replayed to the inbound topic when its value is an
// inbound record, and stored once however often it is replayed; a dead
// letter that cannot be replayed is named, and then nothing is replayed.
// list filters by time, source and original topic.
func TestDeadletterReplay_RecordsRefusedBeforeKafka(t *testing.T) {
	t.Parallel()
	brokers := startBroker(t)
	s := startStack(t, brokers, pgtest.URL(t))
	ctx := context.Background()
	dlTopic := s.app.topics.Name(gateway.TopicDeadletter)
	old := time.Now().Add(-48 * time.Hour).UTC()

	in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: "adapter-1", From: "+15550002001", Text: "refused once", ReceivedAt: old}
	inRec, err := in.Record("chatgate/test-adapter", "")
	if err != nil {
		t.Fatal(err)
	}
	status, err := gateway.EncodeRecord("", "sms:+15550002002", "status-1", "chatgate/test-adapter", gateway.TypeMessageStatus, "", old,
		gateway.Status{Channel: gateway.ChannelSMS, Contact: "+15550002002", Status: gateway.StatusSent, At: old})
	if err != nil {
		t.Fatal(err)
	}
	var recs []gateway.Message
	for _, p := range []struct {
		source   string
		original gateway.Message
		at       time.Time
	}{
		{"chatgate/test-adapter", inRec, old},
		{"chatgate/test-adapter", status, time.Now().UTC()},
		{"chatgate/test-other", gateway.Message{Topic: "chatgate.commands", Partition: 1, Offset: 9, Key: []byte("5"), Value: []byte("{}")}, time.Now().UTC()},
	} {
		rec, err := deadletter.New(ctx, nil, gateway.DeadletterParams{Topic: dlTopic, Source: p.source, Original: p.original, Cause: errors.New("refused"), At: p.at})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if err := s.app.producer.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	inboundID, statusID := "deadletter:"+in.EventID(), "deadletter:status-1"

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{inboundID, statusID, "deadletter:chatgate.commands:1:9"}},
		{[]string{"--since", "24h"}, []string{statusID, "deadletter:chatgate.commands:1:9"}},
		{[]string{"--since", old.Add(-time.Minute).Format(time.RFC3339)}, []string{inboundID, statusID, "deadletter:chatgate.commands:1:9"}},
		{[]string{"--limit", "1"}, []string{"deadletter:chatgate.commands:1:9"}},
		{[]string{"--source", "chatgate/test-other"}, []string{"deadletter:chatgate.commands:1:9"}},
		{[]string{"--topic", "chatgate.commands"}, []string{"deadletter:chatgate.commands:1:9"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got []string
			for _, e := range listDeadletters(t, brokers, tc.args...) {
				got = append(got, e.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("list %v = %v, want %v", tc.args, got, tc.want)
			}
		})
	}

	// Not replayable: named, and nothing is replayed, not even the good one.
	before := countTopic(t, brokers, gateway.TopicInbound)
	out, errOut, err := runChatgate(t, "deadletter", "replay", "--brokers", brokers[0], "--id", inboundID, "--id", statusID)
	if exitCode(err) != exitFailure || !strings.Contains(errOut, "cannot replay "+statusID) || !strings.Contains(errOut, "not an inbound message") ||
		!strings.Contains(errOut, "nothing replayed") || out != "" {
		t.Fatalf("replay of a non-inbound record refused before Kafka: exit %d\n%s%s", exitCode(err), out, errOut)
	}
	if _, errOut, err := runChatgate(t, "deadletter", "replay", "--brokers", brokers[0], "--id", "deadletter:nope"); exitCode(err) != exitFailure || !strings.Contains(errOut, "no dead letter deadletter:nope") {
		t.Fatalf("replay of an unknown id: exit %d %s", exitCode(err), errOut)
	}
	if _, errOut, err := runChatgate(t, "deadletter", "replay", "--brokers", brokers[0], "--from-offset", "0"); exitCode(err) != exitUsage || !strings.Contains(errOut, "--partition is required") {
		t.Fatalf("range replay without --partition on a topic of 4 partitions: exit %d %s", exitCode(err), errOut)
	}
	if n := countTopic(t, brokers, gateway.TopicInbound); n != before {
		t.Fatalf("a refused replay published %d records", n-before)
	}

	for range 2 {
		out := mustRunChatgate(t, "deadletter", "replay", "--brokers", brokers[0], "--id", inboundID)
		if out != "replayed "+inboundID+" to chatgate.inbound\n1 dead letters replayed\n" {
			t.Fatalf("replay: %q", out)
		}
	}
	s.mustPost(t, apiMessage{ID: "marker-2", From: "+15550002001", Text: "after the replays"})
	testkit.WaitFor(t, 30*time.Second, "the marker stored", func() bool {
		return dbCount(t, s, `SELECT count(*) FROM messages WHERE provider_id = 'marker-2'`) == 1
	})
	if n := dbCount(t, s, `SELECT count(*) FROM messages WHERE provider_id = 'adapter-1'`); n != 1 {
		t.Fatalf("the message refused before Kafka is stored %d times after two replays, want once", n)
	}
	if n := countTopic(t, brokers, gateway.TopicInbound); n != before+3 {
		t.Fatalf("inbound topic grew by %d, want the two replays and the marker", n-before)
	}
}

// Bad replay and list flags are usage errors, found before any broker is
// asked.
func TestDeadletterCLI_UsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"replay"}, "say what to replay"},
		{[]string{"replay", "--id", "x", "--partition", "1"}, "does not go with"},
		{[]string{"replay", "--from-offset", "-1"}, "--from-offset -1"},
		{[]string{"replay", "--from-offset", "5", "--to-offset", "4"}, "before --from-offset"},
		{[]string{"replay", "--id", " "}, "--id: empty"},
		{[]string{"replay", "extra"}, "unknown command"},
		{[]string{"list", "--since", "yesterday"}, `--since "yesterday"`},
		{[]string{"list", "--limit", "-1"}, "--limit -1"},
		{[]string{"list", "--limit", "ten"}, "invalid argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			_, errOut, err := runChatgate(t, append([]string{"deadletter", "--brokers", "127.0.0.1:1"}, tc.args...)...)
			if exitCode(err) != exitUsage || !strings.Contains(errOut, tc.say) {
				t.Fatalf("exit %d, stderr %q; want 2 saying %q", exitCode(err), errOut, tc.say)
			}
		})
	}
}
