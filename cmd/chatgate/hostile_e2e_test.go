package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/hostile"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// hostileProbe is one request of the corpus and what it must not do.
type hostileProbe struct {
	entrance string // "api", "twilio", "desk", "ops"
	what     string
	status   int
}

// R38 from outside, through `chatgate run`'s wiring: the hostile corpus
// against every HTTP entrance at once (the API channel, the signed Twilio
// webhooks, the desk and ops APIs). No answer is a 5xx, and whatever an
// entrance acknowledged is stored: every acknowledged inbound message ends up
// in the database and nothing is dead-lettered. The packages of each entrance
// test their fields in detail (TestR38_HostileCorpus… in each); this test
// holds the promise across the wiring.
func TestR38_HostileCorpusAtEveryEntrance(t *testing.T) {
	t.Parallel()
	rest := newTwilioREST(t)
	env := map[string]string{
		"TWILIO_ACCOUNT_SID":      twAccount,
		"TWILIO_AUTH_TOKEN":       twToken,
		"CHATGATE_PUBLIC_URL":     twPublicURL,
		"CHATGATE_TWILIO_NUMBERS": "sms:" + twNumber,
		"CHATGATE_TWILIO_API_URL": rest.srv.URL,
	}
	brokers := startBroker(t)
	s := startStackEnv(t, brokers, pgtest.URL(t), env)

	var probes []hostileProbe
	acked := map[string]bool{} // provider ids of acknowledged inbound messages
	record := func(entrance, what string, code int) {
		probes = append(probes, hostileProbe{entrance: entrance, what: what, status: code})
	}

	// A conversation the desk probes work on.
	s.mustPost(t, apiMessage{ID: "hostile-seed", From: "+27820000001", Text: "Hello"})
	acked["hostile-seed"] = true
	var convID int64
	testkit.WaitFor(t, 30*time.Second, "the seed conversation", func() bool {
		err := s.app.pool.QueryRow(context.Background(),
			`SELECT conversation_id FROM messages WHERE provider_id = 'hostile-seed'`).Scan(&convID)
		return err == nil && convID > 0
	})

	// The API channel: each field of the body in turn, as raw JSON literals
	// (invalid bytes and lone surrogate escapes included).
	valid := map[string]string{"from": `"+27820000002"`, "text": `"hi"`}
	for i, js := range hostile.JSONStrings() {
		for _, field := range []string{"id", "from", "to", "text", "contact_name", "language"} {
			id := fmt.Sprintf("hostile-api-%d-%s", i, field)
			fields := map[string]string{"id": `"` + id + `"`, "from": valid["from"], "text": valid["text"]}
			fields[field] = js.Literal
			var parts []string
			for _, k := range []string{"id", "from", "to", "text", "contact_name", "language"} {
				if v, ok := fields[k]; ok {
					parts = append(parts, fmt.Sprintf("%q:%s", k, v))
				}
			}
			code, _ := s.post(t, "{"+strings.Join(parts, ",")+"}", testToken)
			record("api", field+" = "+js.Name, code)
			if code == http.StatusAccepted {
				if field == "id" {
					// An id the channel accepts is the stored provider id.
					if err := json.Unmarshal([]byte(js.Literal), &id); err != nil {
						t.Fatal(err)
					}
				}
				acked[id] = true
			}
		}
	}
	for i, p := range hostile.PhoneNumbers() {
		id := fmt.Sprintf("hostile-api-phone-%d", i)
		code, _ := s.post(t, apiMessage{ID: id, From: p.Value, Text: "hi"}, testToken)
		record("api", "from = "+p.Name, code)
		if code == http.StatusAccepted {
			acked[id] = true
		}
	}

	// Signed Twilio webhooks: the signature holds, so the content is judged.
	sid := func(i int, field string) string {
		return fmt.Sprintf("SM%032x", uint64(i)<<8|uint64(len(field)))
	}
	for i, h := range hostile.Strings() {
		for _, field := range []string{"Body", "From", "ProfileName", "MessageSid"} {
			form := smsForm(sid(i, field), "+15557770100", "hi")
			form.Set(field, h.Value)
			code, _ := s.postTwilio(t, twilio.MessagesPath, form, "")
			record("twilio", field+" = "+h.Name, code)
			if code == http.StatusOK {
				acked[form.Get("MessageSid")] = true
			}
		}
	}
	for i, c := range hostile.Coordinates() {
		t.Run(c.Name, func(t *testing.T) {
			form := smsForm(sid(1000+i, "loc"), "+15557770101", "")
			form.Set("Latitude", c.LatitudeText)
			form.Set("Longitude", c.LongText)
			code, _ := s.postTwilio(t, twilio.MessagesPath, form, "")
			record("twilio", "coordinates "+c.Name, code)
			if code == http.StatusOK {
				acked[form.Get("MessageSid")] = true
			}
		})
	}
	for i, p := range hostile.PhoneNumbers() {
		form := smsForm(sid(2000+i, "phone"), p.Value, "hi")
		code, _ := s.postTwilio(t, twilio.MessagesPath, form, "")
		record("twilio", "From = "+p.Name, code)
		if code == http.StatusOK {
			acked[form.Get("MessageSid")] = true
		}
	}

	// The desk API: texts of replies and comments, the search words, agent
	// ids in bodies and paths.
	ticket := fmt.Sprintf("/v1/tickets/%d", convID)
	for i, js := range hostile.JSONStrings() {
		for _, c := range []struct{ path, body string }{
			{ticket + "/messages", `{"request_id":"hr-%d","agent_id":"ann","text":%s}`},
			{ticket + "/comments", `{"request_id":"hc-%d","agent_id":"ann","text":%s}`},
			{ticket + "/transfer", `{"request_id":"ht-%d","agent_id":"ann","to_agent":%s}`},
			{ticket + "/accept", `{"request_id":"ha-%d","agent_id":%s}`},
		} {
			code, _ := s.rawCall(t, http.MethodPost, c.path, testDeskToken, fmt.Sprintf(c.body, i, js.Literal))
			record("desk", c.path[strings.LastIndexByte(c.path, '/'):]+" "+js.Name, code)
		}
	}
	for _, h := range hostile.Strings() {
		code, _ := s.rawCall(t, http.MethodGet, "/v1/tickets/search?q="+url.QueryEscape(h.Value), testDeskToken, "")
		record("desk", "search "+h.Name, code)
		code, _ = s.rawCall(t, http.MethodPut, "/v1/agents/"+url.PathEscape(h.Value)+"/presence", testDeskToken, `{"status":"online"}`)
		record("desk", "presence path "+h.Name, code)
	}
	for _, n := range hostile.JSONNumbers() {
		code, _ := s.rawCall(t, http.MethodPost, ticket+"/snooze", testDeskToken,
			`{"request_id":"hs-`+n.Name+`","agent_id":"ann","duration_seconds":`+n.Text+`}`)
		record("desk", "snooze "+n.Name, code)
	}

	// The ops APIs: template names and bodies, department ids.
	for i, js := range hostile.JSONStrings() {
		code, _ := s.rawCall(t, http.MethodPost, "/v1/templates", testOpsToken,
			fmt.Sprintf(`{"name":%s,"language":"en","category":"utility","body":"Hi"}`, js.Literal))
		record("ops", "template name "+js.Name, code)
		code, _ = s.rawCall(t, http.MethodPost, "/v1/templates", testOpsToken,
			fmt.Sprintf(`{"name":"hostile_%d","language":"en","category":"utility","body":%s}`, i, js.Literal))
		record("ops", "template body "+js.Name, code)
	}
	for _, h := range hostile.Strings() {
		if h.Value == "" {
			continue // an empty path segment is another route
		}
		code, _ := s.rawCall(t, http.MethodGet, "/v1/templates/"+url.PathEscape(h.Value), testOpsToken, "")
		record("ops", "template path "+h.Name, code)
		code, _ = s.rawCall(t, http.MethodPut, "/v1/departments/"+url.PathEscape(h.Value), testOpsToken,
			`{"time_zone":"UTC","schedule":{"monday":["08:00-17:00"]}}`)
		record("ops", "department path "+h.Name, code)
	}

	counts := map[string]int{}
	for _, p := range probes {
		counts[p.entrance]++
		if p.status >= 500 {
			t.Errorf("%s: %s answered %d, want a 4xx (or a 2xx for what is stored)", p.entrance, p.what, p.status)
		}
	}
	t.Logf("probes per entrance: %v; acknowledged inbound messages: %d", counts, len(acked))

	// Everything acknowledged is stored, and nothing was dead-lettered.
	// A dead letter ends the wait early: the assertions below then say which.
	testkit.WaitFor(t, 60*time.Second, "every acknowledged message stored", func() bool {
		return dbCount(t, s, `SELECT count(*) FROM messages WHERE direction = 'inbound'`) >= len(acked) ||
			countTopic(t, brokers, gateway.TopicDeadletter) > 0
	})
	rows, err := s.app.pool.Query(context.Background(), `SELECT provider_id FROM messages WHERE direction = 'inbound'`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		// Identifiers may be stored in their normal form (trimmed).
		if !stored[id] && !stored[strings.TrimSpace(id)] {
			t.Errorf("acknowledged message %q is not stored", id)
		}
	}
	if n := countTopic(t, brokers, gateway.TopicDeadletter); n != 0 {
		t.Errorf("%d records dead-lettered: something acknowledged was refused later", n)
	}
}

// rawCall sends body as it is (raw bytes, for bodies json.Marshal cannot
// make) and returns the status and the answer.
func (s *stack) rawCall(t testing.TB, method, path, token, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}
