package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/ticketing"
)

// Rule times of the demo's private chatgate: short enough that the prompt
// expiry (R10) is seen within seconds, long enough that a scripted
// customer always answers in time.
const (
	demoPromptExpiry = 5 * time.Second
	demoIntakeClose  = 30 * time.Second
)

type demoOptions struct {
	// Timeout bounds the whole demo; StepTimeout each expectation.
	Timeout     time.Duration
	StepTimeout time.Duration
	Verbose     bool
}

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Walk a scripted customer through the out-of-hours rules and print what happens",
		Long: `Start a private chatgate (embedded broker, managed PostgreSQL, in a temporary directory,
with a prompt expiry of 5 seconds) and a local web server standing in for the customer's
front end on the API channel, then play a scripted customer and an ops user through the
main paths of the rules (docs/departments.md):

  1. out of hours: prompt, YES, messages, //end: a ticket waits for agents;
  2. the same customer writes again: merged into the open ticket;
  3. another customer answers NO: no ticket; a customer writing from a Portuguese number
     gets the Portuguese texts (the department maps +351 to pt_PT);
  4. a third customer does not answer: the prompt expires;
  5. the department opens and an agent comes online: the first customer's next message
     starts a live chat, and the waiting ticket is closed (superseded_by_chat);
  6. that customer ends the live chat with //end: the desk is told and a reply is refused;
     the customer writes again and the same chat resumes; the front end's end_chat ends it.

It prints what the customer received and which ticket events were published, checks
each step, and exits non-zero if one did not happen as expected: a smoke test.
Nothing is left behind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := "error"
			if opts.Verbose {
				level = "info"
			}
			return runDemo(cmd.Context(), opts, stdout, newLogger(stderr, level))
		},
	}
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 3*time.Minute, "give up after this long")
	cmd.Flags().DurationVar(&opts.StepTimeout, "step-timeout", 30*time.Second, "how long each step may take")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "also log what chatgate does (stderr)")
	return cmd
}

// runDemo starts the private chatgate and the front end, then runs the script.
func runDemo(ctx context.Context, opts demoOptions, out io.Writer, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "chatgate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the server may run as the postgres user
		return err
	}
	secret, err := newToken()
	if err != nil {
		return err
	}
	front, err := startDemoFrontEnd(secret)
	if err != nil {
		return err
	}
	defer front.Close()

	cfg := defaultConfig()
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.EmbeddedKafkaAddr = "127.0.0.1:0"
	cfg.Partitions = 4
	cfg.LogLevel = "warn"
	cfg.Rules.PromptExpiry, cfg.Rules.IntakeClose = demoPromptExpiry, demoIntakeClose
	cfg.TimerInterval = 200 * time.Millisecond
	for _, tok := range []*string{&cfg.APIToken, &cfg.OpsToken, &cfg.DeskToken} {
		if *tok, err = newToken(); err != nil {
			return err
		}
	}
	// Only the API channel, to the demo's front end: no provider account
	// in the environment is used.
	env := map[string]string{envAPICallbackURL: front.URL, envAPICallbackSecret: secret}
	cfg.lookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	fmt.Fprintln(out, "Starting a private chatgate (embedded broker, managed PostgreSQL, prompt expiry 5s)…")
	a, err := newApp(ctx, cfg, pipelineRoles, log)
	if err != nil {
		return err
	}
	defer a.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.run(runCtx) }()
	defer func() { stop(); <-done }()
	select {
	case <-a.server.Listening():
	case err := <-done:
		return fmt.Errorf("chatgate stopped: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	return runDemoScript(ctx, demoTarget{
		BaseURL: "http://" + a.server.Addr(), APIToken: cfg.APIToken, OpsToken: cfg.OpsToken, DeskToken: cfg.DeskToken,
		Brokers: a.brokers, Topics: a.topics, FrontEnd: front, PromptExpiry: cfg.Rules.PromptExpiry,
		StepTimeout: opts.StepTimeout,
	}, out)
}

// demoTarget is the running chatgate the script drives, from outside: its
// HTTP API, its Kafka topics, and the front end its API channel calls back.
type demoTarget struct {
	BaseURL                       string
	APIToken, OpsToken, DeskToken string
	Brokers                       []string
	Topics                        gateway.Topics
	FrontEnd                      *demoFrontEnd
	// PromptExpiry is the target's CHATGATE_PROMPT_EXPIRY: how long the
	// script waits for an unanswered prompt to expire (plus StepTimeout).
	PromptExpiry time.Duration
	StepTimeout  time.Duration
}

// demoFrontEnd stands in for a customer's web front end on the API
// channel: chatgate POSTs the customer's messages to it, signed.
type demoFrontEnd struct {
	URL    string
	secret string
	srv    *http.Server
	inbox  demoLog[apichannel.Callback]
	refuse demoLog[string] // callbacks whose signature did not verify
}

func startDemoFrontEnd(secret string) (*demoFrontEnd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo front end: %w", err)
	}
	f := &demoFrontEnd{URL: "http://" + ln.Addr().String() + "/chatgate", secret: secret}
	f.inbox.init()
	f.refuse.init()
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// ServeHTTP receives one outbound message of the API channel.
func (f *demoFrontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := apichannel.VerifySignature(f.secret, r.Header.Get(apichannel.HeaderTimestamp), body,
		r.Header.Get(apichannel.HeaderSignature), time.Now(), 0); err != nil {
		f.refuse.add(err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var cb apichannel.Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		f.refuse.add("undecodable callback: " + err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := f.inbox.add(cb)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"front-end-%d"}`, n)
}

// Close stops the front end.
func (f *demoFrontEnd) Close() { _ = f.srv.Close() }

// demoLog is an append-only list that can be waited on.
type demoLog[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every add
}

func (l *demoLog[T]) init() { l.changed = make(chan struct{}) }

func (l *demoLog[T]) add(v T) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(l.items)
}

// wait calls cond with the items until it returns true or ctx ends.
func (l *demoLog[T]) wait(ctx context.Context, cond func([]T) bool) error {
	for {
		l.mu.Lock()
		ok, changed := cond(l.items), l.changed
		l.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *demoLog[T]) snapshot() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

// demoMessage is the body of POST /v1/channels/api/messages.
type demoMessage struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	// Type is "end_chat" when the front end's "end chat" button was
	// pressed (R24); empty for a message.
	Type string `json:"type,omitempty"`
	Text string `json:"text,omitempty"`
}

// demoEvent is a ticket event as the script sees it.
type demoEvent struct {
	Type string // without the "chatgate.ticket." prefix
	Data gateway.TicketEvent
}

// demoWant is one expected ticket event. Conv labels the conversation:
// events with one label are on one conversation, a label seen for the first
// time must be a conversation not seen before.
type demoWant struct {
	Conv, Type, Reason string
	// Kind and State, when set, are checked on the conversation after the event.
	Kind, State string
	// SentBy, when set, is the author of the event's message.
	SentBy string
	// Language, when set, is the contact's language on the event (R34).
	Language string
}

// demoText is the message_added event of a text chatgate sent on conv:
// its own texts are messages of the conversation (R37).
func demoText(conv string) demoWant {
	return demoWant{Conv: conv, Type: "message_added", SentBy: ticketing.SentBySystem}
}

// demoRun is one run of the script: what it has checked so far.
type demoRun struct {
	tgt    demoTarget
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

// runDemoScript plays the customers and the ops user against tgt and
// writes the transcript to out. It returns an error at the first step that
// did not happen as expected. tgt must be a fresh chatgate (no departments).
func runDemoScript(ctx context.Context, tgt demoTarget, out io.Writer) error {
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
func (r *demoRun) text(kind ticketing.TextKind) string {
	s, _ := r.dep.Text(kind, "")
	return s
}

func (r *demoRun) section(title string) {
	r.step++
	fmt.Fprintf(r.out, "\n%s\n", title)
}

func (r *demoRun) note(format string, args ...any) {
	fmt.Fprintf(r.out, "             %s\n", fmt.Sprintf(format, args...))
}

func (r *demoRun) ok(format string, args ...any) {
	fmt.Fprintf(r.out, "  ✓          %s\n", fmt.Sprintf(format, args...))
}

func (r *demoRun) line(who, format string, args ...any) {
	fmt.Fprintf(r.out, "  %-10s %s\n", who, fmt.Sprintf(format, args...))
}

// call sends one HTTP request to the target and checks the status.
func (r *demoRun) call(method, path, token string, body any, want int) error {
	_, err := r.answer(method, path, token, body, want)
	return err
}

// refused sends one HTTP request that must be refused with status want and
// the error code.
func (r *demoRun) refused(method, path, token string, body any, want int, code string) error {
	answer, err := r.answer(method, path, token, body, want)
	if err != nil {
		return err
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(answer, &e); err != nil || e.Error.Code != code {
		return fmt.Errorf("%s %s: %s, want the error %s", method, path, bytes.TrimSpace(answer), code)
	}
	return nil
}

// answer sends one HTTP request to the target, checks the status and
// returns the body.
func (r *demoRun) answer(method, path, token string, body any, want int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.tgt.StepTimeout)
	defer cancel()
	js, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, r.tgt.BaseURL+path, bytes.NewReader(js))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, bytes.TrimSpace(answer), want)
	}
	return answer, nil
}

func (r *demoRun) ops(method, path string, body any, want int, what string) error {
	r.line("ops", "%s %s (%s)", method, path, what)
	return r.call(method, path, r.tgt.OpsToken, body, want)
}

func (r *demoRun) presence(agent, status string) error {
	r.line("desk", "PUT /v1/agents/%s/presence %s", agent, status)
	return r.call("PUT", "/v1/agents/"+agent+"/presence", r.tgt.DeskToken, map[string]string{"status": status}, http.StatusOK)
}

// demoNames name the demo's customers in the transcript.
var demoNames = map[string]string{demoThandi: "Thandi", demoSipho: "Sipho", demoLerato: "Lerato", demoJoao: "João"}

// say posts one message of contact on the API channel.
func (r *demoRun) say(contact, text string) error {
	r.line(demoNames[contact], "→ \"%s\"", text)
	r.sent++
	msg := demoMessage{ID: fmt.Sprintf("demo-%d-%d", r.started.UnixNano(), r.sent), From: contact, To: demoBusiness, Text: text}
	return r.call("POST", "/v1/channels/api/messages", r.tgt.APIToken, msg, http.StatusAccepted)
}

// endChat posts the front end's end_chat event for contact (R24).
func (r *demoRun) endChat(contact string) error {
	r.line(demoNames[contact], "→ (presses \"end chat\": type end_chat)")
	r.sent++
	msg := demoMessage{ID: fmt.Sprintf("demo-%d-%d", r.started.UnixNano(), r.sent), From: contact, To: demoBusiness, Type: "end_chat"}
	return r.call("POST", "/v1/channels/api/messages", r.tgt.APIToken, msg, http.StatusAccepted)
}

// turn is one turn of the script: contact says text, then chatgate must
// answer with texts and publish events.
func (r *demoRun) turn(contact, text string, texts []string, events []demoWant) error {
	if err := r.say(contact, text); err != nil {
		return err
	}
	return r.expect(contact, texts, events)
}

func (r *demoRun) expect(contact string, texts []string, events []demoWant) error {
	return r.expectWithin(contact, texts, events, r.tgt.StepTimeout)
}

// expectWithin waits until contact received texts (in order) and events
// were published for it, then checks them: exactly these, nothing else
// since the previous expectation for the contact.
func (r *demoRun) expectWithin(contact string, texts []string, events []demoWant, within time.Duration) error {
	ctx, cancel := context.WithTimeout(r.ctx, within)
	defer cancel()
	from := r.seenEvents[contact]
	var got []demoEvent
	err := r.events.wait(ctx, func(all []demoEvent) bool {
		got = got[:0]
		for _, ev := range all {
			if ev.Data.Conversation.Contact.Address == contact {
				got = append(got, ev)
			}
		}
		got = got[min(from, len(got)):]
		return len(got) >= len(events)
	})
	if err != nil {
		return fmt.Errorf("%s: %d of the %d expected ticket events arrived within %v (%s)", contact, len(got), len(events), within, describeEvents(got))
	}
	got = got[:len(events)]
	if err := r.matchEvents(contact, got, events); err != nil {
		return err
	}
	r.seenEvents[contact] = from + len(events)

	fromText := r.seenTexts[contact]
	var received []apichannel.Callback
	err = r.tgt.FrontEnd.inbox.wait(ctx, func(all []apichannel.Callback) bool {
		received = received[:0]
		for _, cb := range all {
			if cb.To == contact {
				received = append(received, cb)
			}
		}
		received = received[min(fromText, len(received)):]
		return len(received) >= len(texts)
	})
	if refused := r.tgt.FrontEnd.refuse.snapshot(); len(refused) > 0 {
		return fmt.Errorf("the front end refused callbacks: %s", strings.Join(refused, "; "))
	}
	if err != nil {
		return fmt.Errorf("%s received %d of the %d expected messages within %v", contact, len(received), len(texts), within)
	}
	for i, want := range texts {
		cb := received[i]
		if cb.Text != want {
			return fmt.Errorf("%s received %q, want %q", contact, cb.Text, want)
		}
		if cb.From != demoBusiness {
			return fmt.Errorf("%s received a message from %q, want %q", contact, cb.From, demoBusiness)
		}
		r.line(demoNames[contact], "← \"%s\"", cb.Text)
	}
	if len(received) > len(texts) {
		return fmt.Errorf("%s received an unexpected message %q", contact, received[len(texts)].Text)
	}
	r.seenTexts[contact] = fromText + len(texts)
	r.texts += len(texts)
	return nil
}

// matchEvents checks got against want: per conversation label, the same
// types and reasons in the same order (events of different conversations
// may interleave on the topic), and prints them.
func (r *demoRun) matchEvents(contact string, got []demoEvent, want []demoWant) error {
	byConv := map[int64][]demoEvent{}
	var order []int64
	for _, ev := range got {
		id := ev.Data.Conversation.ID
		if _, ok := byConv[id]; !ok {
			order = append(order, id)
		}
		byConv[id] = append(byConv[id], ev)
	}
	wantBy := map[string][]demoWant{}
	var labels []string
	for _, w := range want {
		if _, ok := wantBy[w.Conv]; !ok {
			labels = append(labels, w.Conv)
		}
		wantBy[w.Conv] = append(wantBy[w.Conv], w)
	}
	bound := map[int64]string{}
	for l, id := range r.convs {
		bound[id] = l
	}
	for _, l := range labels {
		id, ok := r.convs[l]
		if !ok {
			// A new conversation: the one not seen before among got's.
			for _, cand := range order {
				if _, taken := bound[cand]; !taken {
					id, ok = cand, true
					break
				}
			}
			if !ok {
				return fmt.Errorf("%s: expected a new conversation, got events on %s", contact, describeEvents(got))
			}
			r.convs[l], bound[id] = id, l
		}
		evs, ws := byConv[id], wantBy[l]
		if len(evs) != len(ws) {
			return fmt.Errorf("%s: conversation #%d got %s, want %d events", contact, id, describeEvents(evs), len(ws))
		}
		for i, w := range ws {
			ev, c := evs[i], evs[i].Data.Conversation
			sentBy := ""
			if ev.Data.Message != nil {
				sentBy = ev.Data.Message.SentBy
			}
			if ev.Type != w.Type || ev.Data.Reason != w.Reason || (w.Kind != "" && c.Kind != w.Kind) || (w.State != "" && c.State != w.State) ||
				(w.SentBy != "" && sentBy != w.SentBy) || (w.Language != "" && c.Contact.Language != w.Language) {
				return fmt.Errorf("%s: conversation #%d event %d is %s (reason %q, %s, %s, by %q), want %s (reason %q, %s, %s, by %q)",
					contact, id, i+1, ev.Type, ev.Data.Reason, c.Kind, c.State, sentBy, w.Type, w.Reason, orAny(w.Kind), orAny(w.State), w.SentBy)
			}
		}
		delete(byConv, id)
	}
	if len(byConv) > 0 {
		return fmt.Errorf("%s: unexpected events %s", contact, describeEvents(got))
	}
	for _, ev := range got {
		c := ev.Data.Conversation
		detail := c.Kind + ", " + c.State
		if ev.Data.Reason != "" {
			detail += ", reason " + ev.Data.Reason
		}
		if c.Intake != "" {
			detail += ", intake " + c.Intake
		}
		if m := ev.Data.Message; m != nil && m.SentBy != "" {
			detail += fmt.Sprintf(", message %d by %s %q", m.Seq, m.SentBy, m.Text)
		} else if m != nil {
			detail += fmt.Sprintf(", message %d %q", m.Seq, m.Text)
		}
		r.line("tickets", "#%d %s (%s)", c.ID, ev.Type, detail)
	}
	return nil
}

// noStrayTexts checks that chatgate sent nothing the script did not
// expect: the outbound topic holds exactly the texts checked. Ticket events
// and texts of one decision are published together, after those of earlier
// decisions, so once the last events arrived every text is on the topic.
func (r *demoRun) noStrayTexts() error {
	ctx, cancel := context.WithTimeout(r.ctx, r.tgt.StepTimeout)
	defer cancel()
	ends, err := kafka.EndOffsets(ctx, r.tgt.Brokers, r.tgt.Topics.Name(gateway.TopicOutbound))
	if err != nil {
		return err
	}
	var n int64
	for _, off := range ends {
		n += off
	}
	if n != int64(r.texts) {
		return fmt.Errorf("chatgate queued %d messages for the customers, the script expected %d", n, r.texts)
	}
	r.ok("chatgate sent exactly the %d messages shown, each signed and verified by the front end", r.texts)
	return nil
}

func describeEvents(evs []demoEvent) string {
	if len(evs) == 0 {
		return "none"
	}
	var parts []string
	for _, ev := range evs {
		s := fmt.Sprintf("#%d %s", ev.Data.Conversation.ID, ev.Type)
		if ev.Data.Reason != "" {
			s += "(" + ev.Data.Reason + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

// alwaysOpenSchedule is a schedule open around the clock.
func alwaysOpenSchedule() map[string][]string {
	s := map[string][]string{}
	for _, d := range scheduleDays {
		s[d] = []string{"00:00-24:00"}
	}
	return s
}
