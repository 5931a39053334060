package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/cmd/chatgate/internal/demo"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// The demo's script passes against the test stack, so CI runs the demo.
func TestDemoScriptPassesAgainstTheStack(t *testing.T) {
	t.Parallel()
	front, err := demo.StartFrontEnd(testCallbackSecret)
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	const promptExpiry = 3 * time.Second
	env := map[string]string{"CHATGATE_API_CALLBACK_URL": front.URL, "CHATGATE_API_CALLBACK_SECRET": testCallbackSecret}
	s := startRulesStack(t, startBroker(t), pgtest.URL(t), env, func(c *config) {
		c.Rules.PromptExpiry = promptExpiry
		c.TimerInterval = 50 * time.Millisecond
	})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = demo.Run(ctx, demo.Target{
		BaseURL: s.base, APIToken: testToken, OpsToken: testOpsToken, DeskToken: testDeskToken,
		Brokers: s.brokers, Topics: s.app.topics, FrontEnd: front, PromptExpiry: promptExpiry, StepTimeout: 30 * time.Second,
	}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"Every step happened as expected.",
		`Lerato     ← "Would you like to leave a message for the agent?`,
		"intake_closed (ticket, unassigned, reason ended_by_contact)",
		"reason superseded_by_chat",
		"reason prompt_expired",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("transcript lacks %q:\n%s", want, out.String())
		}
	}
	if testing.Verbose() {
		t.Log("\n" + out.String())
	}
}

// A script step that does not happen fails the demo with a reason.
func TestDemoScriptFailsWhenAStepDoesNotHappen(t *testing.T) {
	t.Parallel()
	front, err := demo.StartFrontEnd(testCallbackSecret)
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	// No callback configured: the customer never receives the prompt.
	s := startRulesStack(t, startBroker(t), pgtest.URL(t), nil, nil)
	var out bytes.Buffer
	err = demo.Run(context.Background(), demo.Target{
		BaseURL: s.base, APIToken: testToken, OpsToken: testOpsToken, DeskToken: testDeskToken,
		Brokers: s.brokers, Topics: s.app.topics, FrontEnd: front, PromptExpiry: time.Minute, StepTimeout: 2 * time.Second,
	}, &out)
	if err == nil || !strings.Contains(err.Error(), "received 0 of the 2 expected messages") || !strings.Contains(out.String(), "FAILED") {
		t.Fatalf("err = %v\n%s", err, out.String())
	}
}
