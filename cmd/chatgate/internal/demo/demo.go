// Package demo is the script of `chatgate demo`: a scripted customer and an
// ops user driving a running chatgate from outside, through its HTTP API,
// the API channel's signed callbacks (received by FrontEnd) and the tickets
// topic, through the main paths of the out-of-hours rules. It uses only
// chatgate's exported APIs, so it checks what an integrator sees; the
// command in cmd/chatgate starts the private chatgate it runs against.
package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/ticketing"
)

// Rule times a private chatgate for the demo should run with: short enough
// that the prompt expiry (R10) is seen within seconds, long enough that a
// scripted customer always answers in time.
const (
	PromptExpiry = 5 * time.Second
	IntakeClose  = 30 * time.Second
)

// Target is the running chatgate the script drives, from outside: its
// HTTP API, its Kafka topics, and the front end its API channel calls back.
type Target struct {
	// BaseURL is the HTTP API's, e.g. "http://127.0.0.1:8080".
	BaseURL string
	// APIToken, OpsToken and DeskToken are bearer tokens of the roles
	// api-channel, ops and desk.
	APIToken, OpsToken, DeskToken string
	// Brokers and Topics are the target's Kafka: the script follows the
	// tickets topic and checks the outbound one.
	Brokers []string
	Topics  gateway.Topics
	// FrontEnd receives the API channel's callbacks: the target's
	// CHATGATE_API_CALLBACK_URL must be FrontEnd.URL.
	FrontEnd *FrontEnd
	// PromptExpiry is the target's CHATGATE_PROMPT_EXPIRY: how long the
	// script waits for an unanswered prompt to expire (plus StepTimeout).
	PromptExpiry time.Duration
	// StepTimeout bounds each expectation; 0 means 30 s.
	StepTimeout time.Duration
}

// demoRun is one run of the script: what it has checked so far.
type demoRun struct {
	tgt    Target
	out    io.Writer
	ctx    context.Context
	events demoLog[demoEvent]
	// Per contact: how many events and texts the script has checked.
	seenEvents map[string]int
	seenTexts  map[string]int
	convs      map[string]int64 // label → conversation id
	step       int
	texts      int // texts checked in all
	sent       int // messages posted
	started    time.Time
	dep        ticketing.Department
}

// Run plays the customers and the ops user against tgt and
// writes the transcript to out. It returns an error at the first step that
// did not happen as expected. tgt must be a fresh chatgate (no departments).
func Run(ctx context.Context, tgt Target, out io.Writer) error {
	if tgt.StepTimeout <= 0 {
		tgt.StepTimeout = 30 * time.Second
	}
	r := &demoRun{tgt: tgt, out: out, ctx: ctx, started: time.Now(), seenEvents: map[string]int{}, seenTexts: map[string]int{}, convs: map[string]int64{}}
	r.events.init()
	tail, err := kafka.NewTail(ctx, tgt.Brokers, tgt.Topics.Name(gateway.TopicTickets), false)
	if err != nil {
		return err
	}
	tailCtx, stopTail := context.WithCancel(ctx)
	tailDone := make(chan struct{})
	defer func() { stopTail(); tail.Close(); <-tailDone }()
	go func() {
		defer close(tailDone)
		for {
			select {
			case m := <-tail.Messages():
				ev, err := gateway.DecodeEvent(m.Value)
				if err != nil || ev.Type == gateway.TypeTicketMessageStatus {
					// Delivery statuses of the texts sent arrive whenever
					// the front end answers; the transcript leaves them out.
					continue
				}
				de := demoEvent{Type: strings.TrimPrefix(ev.Type, "chatgate.ticket.")}
				if ev.DecodeData(&de.Data) == nil {
					r.events.add(de)
				}
			case <-tailCtx.Done():
				return
			}
		}
	}()
	if err := r.script(); err != nil {
		fmt.Fprintf(out, "\nFAILED: %v\n", err)
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintln(out, "\nEvery step happened as expected.")
	return nil
}

const (
	demoBusiness = "+27600000000"
	demoThandi   = "+27821110001"
	demoSipho    = "+27821110002"
	demoLerato   = "+27821110003"
	demoJoao     = "+351912110004"
)

func (r *demoRun) script() error {
	today := time.Now().UTC()
	r.dep = ticketing.Department{
		ID: "support", Name: "Customer support", TimeZone: "UTC", Schedule: alwaysOpenSchedule(),
		Closures: []ticketing.Closure{{Name: "Staff training", From: today.AddDate(0, 0, -1).Format(time.DateOnly),
			To: today.AddDate(0, 0, 1).Format(time.DateOnly)}},
		Agents:  []string{"ann"},
		Routing: ticketing.Routing{Numbers: []string{demoBusiness}, Default: true},
		Texts: map[string]ticketing.Texts{
			"en": {OutOfHours: "Thanks for writing to Acme support. We are closed today for staff training."},
			"pt_PT": {
				OutOfHours:         "Obrigado por escrever ao apoio da Acme. Hoje estamos fechados para formação.",
				LeaveMessagePrompt: `Quer deixar uma mensagem para o agente? Responda YES ou NO. Se responder YES, envie "//end" depois da sua última mensagem.`,
				ConsentDeclined:    "Sem problema. Escreva-nos de novo no nosso horário.",
			},
		},
		LanguagesByPrefix: map[string]string{"+351": "pt_PT"},
	}
	oh, prompt := r.text(ticketing.TextOutOfHours), r.text(ticketing.TextLeaveMessagePrompt)

	fmt.Fprintf(r.out, "\nCustomers write on the API channel to %s: Thandi %s, Sipho %s, Lerato %s, João %s.\n", demoBusiness, demoThandi, demoSipho, demoLerato, demoJoao)
	fmt.Fprintln(r.out, "→ the customer writes, ← the customer receives (through the signed callback), #N ticket events on the tickets topic.")
	r.section("Setup: ops configure a department, closed today; the agent's desk says Ann is online")
	if err := r.ops("PUT", "/v1/departments/support", r.dep, http.StatusCreated,
		"department support: open around the clock, closed today (staff training), agent ann"); err != nil {
		return err
	}
	if err := r.presence("ann", "online"); err != nil {
		return err
	}

	r.section("1. Out of hours: Thandi leaves a message (R6, R7, R12)")
	if err := r.turn(demoThandi, "Hello, my order has not arrived", []string{oh, prompt}, []demoWant{
		{Conv: "thandi-ticket", Type: "created", Kind: "live_chat", State: "unassigned"},
		{Conv: "thandi-ticket", Type: "message_added"},
		demoText("thandi-ticket"), demoText("thandi-ticket"),
	}); err != nil {
		return err
	}
	if err := r.turn(demoThandi, "yes", nil, []demoWant{
		{Conv: "thandi-ticket", Type: "message_added"},
		{Conv: "thandi-ticket", Type: "intake_started", Kind: "ticket"},
	}); err != nil {
		return err
	}
	for _, m := range []string{"It is order 1234.", "It was due on Monday."} {
		if err := r.turn(demoThandi, m, nil, []demoWant{{Conv: "thandi-ticket", Type: "message_added"}}); err != nil {
			return err
		}
	}
	if err := r.turn(demoThandi, "//end", []string{r.text(ticketing.TextIntakeClosed)}, []demoWant{
		{Conv: "thandi-ticket", Type: "message_added"},
		{Conv: "thandi-ticket", Type: "intake_closed", Reason: ticketing.ReasonEndedByContact, Kind: "ticket", State: "unassigned"},
		demoText("thandi-ticket"),
	}); err != nil {
		return err
	}
	r.ok("ticket #%d waits in the unassigned queue with Thandi's 5 messages", r.convs["thandi-ticket"])

	r.section("2. Thandi writes again, still out of hours: merged into her open ticket (R13)")
	if err := r.turn(demoThandi, "Any news about my order?", []string{oh, prompt}, []demoWant{
		{Conv: "thandi-ticket", Type: "message_added", Kind: "ticket"}, demoText("thandi-ticket"), demoText("thandi-ticket"),
	}); err != nil {
		return err
	}
	if err := r.turn(demoThandi, "YES", nil, []demoWant{
		{Conv: "thandi-ticket", Type: "message_added"},
		{Conv: "thandi-ticket", Type: "intake_started"},
	}); err != nil {
		return err
	}
	r.note("(NO after YES is an ordinary message of the ticket: R11)")
	if err := r.turn(demoThandi, "NO", nil, []demoWant{{Conv: "thandi-ticket", Type: "message_added"}}); err != nil {
		return err
	}
	if err := r.turn(demoThandi, "//end", []string{r.text(ticketing.TextIntakeClosed)}, []demoWant{
		{Conv: "thandi-ticket", Type: "message_added"},
		{Conv: "thandi-ticket", Type: "intake_closed", Reason: ticketing.ReasonEndedByContact, State: "unassigned"},
		demoText("thandi-ticket"),
	}); err != nil {
		return err
	}
	r.ok("still one open ticket for Thandi: #%d", r.convs["thandi-ticket"])

	r.section("3. Sipho answers NO: no ticket (R8)")
	if err := r.turn(demoSipho, "Hi, are you there?", []string{oh, prompt}, []demoWant{
		{Conv: "sipho", Type: "created", Kind: "live_chat"},
		{Conv: "sipho", Type: "message_added"},
		demoText("sipho"), demoText("sipho"),
	}); err != nil {
		return err
	}
	if err := r.turn(demoSipho, "no", []string{r.text(ticketing.TextConsentDeclined)}, []demoWant{
		{Conv: "sipho", Type: "message_added"},
		{Conv: "sipho", Type: "closed", Reason: ticketing.ReasonConsentDeclined, Kind: "live_chat", State: "closed"},
		demoText("sipho"),
	}); err != nil {
		return err
	}
	r.ok("conversation #%d closed as a chat, no ticket", r.convs["sipho"])

	r.section("3b. João writes from a Portuguese number: the texts are Portuguese (R34)")
	ptText := func(kind ticketing.TextKind) string { s, _ := r.dep.Text(kind, "pt_PT"); return s }
	if err := r.turn(demoJoao, "Olá, a minha encomenda?", []string{ptText(ticketing.TextOutOfHours), ptText(ticketing.TextLeaveMessagePrompt)}, []demoWant{
		{Conv: "joao", Type: "created", Language: "pt_PT"},
		{Conv: "joao", Type: "message_added"},
		demoText("joao"), demoText("joao"),
	}); err != nil {
		return err
	}
	if err := r.turn(demoJoao, "NO", []string{ptText(ticketing.TextConsentDeclined)}, []demoWant{
		{Conv: "joao", Type: "message_added"},
		{Conv: "joao", Type: "closed", Reason: ticketing.ReasonConsentDeclined, State: "closed"},
		demoText("joao"),
	}); err != nil {
		return err
	}
	r.ok("João's language is pt_PT: the department maps numbers starting +351 to it")

	r.section("4. Lerato does not answer the prompt: it expires (R10)")
	if err := r.turn(demoLerato, "Hello?", []string{oh, prompt}, []demoWant{
		{Conv: "lerato", Type: "created"},
		{Conv: "lerato", Type: "message_added"},
		demoText("lerato"), demoText("lerato"),
	}); err != nil {
		return err
	}
	r.note("(waiting for the prompt to expire: %v here, CHATGATE_PROMPT_EXPIRY, 15m by default)", r.tgt.PromptExpiry)
	if err := r.expectWithin(demoLerato, nil, []demoWant{
		{Conv: "lerato", Type: "closed", Reason: ticketing.ReasonPromptExpired, Kind: "live_chat", State: "closed"},
	}, r.tgt.PromptExpiry+r.tgt.StepTimeout); err != nil {
		return err
	}
	r.ok("conversation #%d closed without a ticket, nothing sent", r.convs["lerato"])

	r.section("5. The department opens and Ann is online: Thandi's next message starts a live chat (R5, R14)")
	r.dep.Closures = nil
	if err := r.ops("PUT", "/v1/departments/support", r.dep, http.StatusOK, "department support: training over, closure removed"); err != nil {
		return err
	}
	if err := r.presence("ann", "online"); err != nil {
		return err
	}
	if err := r.turn(demoThandi, "Hello again, is anyone there now?", nil, []demoWant{
		{Conv: "thandi-ticket", Type: "closed", Reason: ticketing.ReasonSupersededByChat, Kind: "ticket", State: "closed"},
		{Conv: "thandi-chat", Type: "created", Kind: "live_chat", State: "unassigned"},
		{Conv: "thandi-chat", Type: "message_added"},
	}); err != nil {
		return err
	}
	r.ok("ticket #%d closed (superseded_by_chat); live chat #%d waits for Ann", r.convs["thandi-ticket"], r.convs["thandi-chat"])

	r.section("6. Thandi ends the live chat, then comes back to it (R24)")
	if err := r.turn(demoThandi, "//end", []string{r.text(ticketing.TextContactLeft)}, []demoWant{
		{Conv: "thandi-chat", Type: "message_added"},
		{Conv: "thandi-chat", Type: "contact_left", Reason: ticketing.ReasonEndKeyword, State: "unassigned"},
		demoText("thandi-chat"),
	}); err != nil {
		return err
	}
	chat := r.convs["thandi-chat"]
	r.line("desk", "POST /v1/tickets/%d/messages (Ann replies)", chat)
	if err := r.refused("POST", fmt.Sprintf("/v1/tickets/%d/messages", chat), r.tgt.DeskToken,
		map[string]string{"request_id": fmt.Sprintf("demo-reply-%d", r.started.UnixNano()), "agent_id": "ann", "text": "Are you still there?"},
		http.StatusConflict, ticketing.CodeContactEndedChat); err != nil {
		return err
	}
	r.ok("refused with contact_ended_chat: Ann can only resolve or delete it now")
	if err := r.turn(demoThandi, "Sorry, one more question", nil, []demoWant{
		{Conv: "thandi-chat", Type: "contact_returned", State: "unassigned"},
		{Conv: "thandi-chat", Type: "message_added"},
	}); err != nil {
		return err
	}
	r.ok("the same live chat #%d resumes; replies are allowed again", chat)
	if err := r.endChat(demoThandi); err != nil {
		return err
	}
	if err := r.expect(demoThandi, []string{r.text(ticketing.TextContactLeft)}, []demoWant{
		{Conv: "thandi-chat", Type: "message_added"},
		{Conv: "thandi-chat", Type: "contact_left", Reason: ticketing.ReasonEndChat},
		demoText("thandi-chat"),
	}); err != nil {
		return err
	}
	r.ok("the front end's end_chat ends it the same way (reason end_chat)")

	return r.noStrayTexts()
}

// text is the department's text of kind, as the contacts (no language
// set) receive it.
