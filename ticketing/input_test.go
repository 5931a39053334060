package ticketing

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/hostile"
)

// commandField puts a value in one field of a valid command.
type commandField struct {
	field string
	cmd   func(v string) Command
	// accepts are the hostile classes the field takes as they are.
	accepts []hostile.Class
}

func commandFields() []commandField {
	env := func(typ string, args *DeskArgs) Command {
		return Command{Type: typ, RequestID: "r-1", ConversationID: 7, AgentID: "ann", DeskArgs: args}
	}
	reply := func(r *Reply) Command {
		c := env(TypeCommandReply, nil)
		c.Reply = r
		return c
	}
	texts := []hostile.Class{hostile.Long, hostile.Padded, hostile.Path, hostile.Whitespace, hostile.Unicode}
	keys := []hostile.Class{hostile.Path, hostile.Whitespace, hostile.Unicode}
	return []commandField{
		{"request_id", func(v string) Command { c := reply(&Reply{Text: "hi"}); c.RequestID = v; return c }, keys},
		{"agent_id", func(v string) Command { c := reply(&Reply{Text: "hi"}); c.AgentID = v; return c }, nil},
		{"text", func(v string) Command { return reply(&Reply{Text: v}) }, texts},
		{"text", func(v string) Command { c := env(TypeCommandComment, nil); c.Reply = &Reply{Text: v}; return c }, texts},
		// A name that breaks the name rule but can be looked up is left to
		// the lookup (template_not_found).
		{"template.name", func(v string) Command {
			return reply(&Reply{Template: &TemplateReply{Name: v, Language: "en"}})
		}, append(keys, hostile.Long)},
		{"template.language", func(v string) Command {
			return reply(&Reply{Template: &TemplateReply{Name: "order_shipped", Language: v}})
		}, []hostile.Class{hostile.Padded}}, // " ann " is the language ann
		{"template.variables", func(v string) Command {
			return reply(&Reply{Template: &TemplateReply{Name: "order_shipped", Language: "en", Variables: map[string]string{v: "x"}}})
		}, keys},
		{"to_agent", func(v string) Command { return env(TypeCommandTransfer, &DeskArgs{ToAgent: v}) }, nil},
		{"to_department", func(v string) Command { return env(TypeCommandTransfer, &DeskArgs{ToDepartment: v}) }, nil},
		{"display_name", func(v string) Command {
			c := env(TypeCommandSign, &DeskArgs{Sign: ptr(true), DisplayName: v})
			c.ConversationID = 0
			return c
		}, []hostile.Class{hostile.Empty, hostile.Padded, hostile.Path, hostile.Whitespace, hostile.Unicode}},
	}
}

// TestR38_CommandValidateJudgesTheHostileCorpus puts every hostile value
// in every field of a desk command: Validate refuses exactly what the
// field's rule refuses, naming the field, with invalid_command; on the
// commands topic as over HTTP, a refused command never reaches the store.
func TestR38_CommandValidateJudgesTheHostileCorpus(t *testing.T) {
	t.Parallel()
	for _, f := range commandFields() {
		for _, h := range hostile.Strings() {
			t.Run(f.field+"/"+h.Name, func(t *testing.T) {
				t.Parallel()
				c := f.cmd(h.Value)
				rej := c.Validate()
				if slices.Contains(f.accepts, h.Class) {
					if rej != nil {
						t.Fatalf("Validate = %v, want %s accepted", rej, f.field)
					}
					return
				}
				if rej == nil || rej.Code != CodeInvalidCommand {
					t.Fatalf("Validate = %v, want invalid_command", rej)
				}
				want := f.field
				if f.field == "to_department" && h.Class == hostile.Empty {
					want = "to_agent" // "give to_agent or to_department, exactly one"
				}
				if !slices.ContainsFunc(rej.Fields, func(p FieldProblem) bool { return p.Field == want }) {
					t.Fatalf("Validate = %+v, want a problem of %s", rej.Fields, want)
				}
			})
		}
	}
}

func TestR38_SnoozeDurationCannotWrapAround(t *testing.T) {
	t.Parallel()
	// 3600 + 2^55 seconds: multiplied by time.Second it wraps to one hour.
	c := Command{Type: TypeCommandSnooze, RequestID: "r", ConversationID: 1, AgentID: "ann",
		DeskArgs: &DeskArgs{DurationSeconds: 3600 + 1<<55}}
	if rej := c.Validate(); rej == nil || rej.Fields[0].Field != "duration_seconds" {
		t.Fatalf("Validate = %v, want duration_seconds refused", rej)
	}
	if time.Duration(c.DurationSeconds)*time.Second != time.Hour {
		t.Fatal("the test value no longer wraps to one hour")
	}
	c.DurationSeconds = 3600
	if rej := c.Validate(); rej != nil {
		t.Fatal(rej)
	}
}

// TestR38_DepartmentValidateRefusesWhatCannotBeStored: a department is
// stored as JSON, where PostgreSQL refuses U+0000; its texts are sent to
// contacts; its agents are agent ids.
func TestR38_DepartmentValidateRefusesWhatCannotBeStored(t *testing.T) {
	t.Parallel()
	base := func() Department {
		return Department{ID: "support", Name: "Support", TimeZone: "Africa/Johannesburg", Agents: []string{"ann"},
			Texts: map[string]Texts{"en": {OutOfHours: "We are closed."}}}
	}
	tests := []struct {
		name, field string
		mutate      func(d *Department, v string)
	}{
		{"name", "name", func(d *Department, v string) { d.Name = v }},
		{"text", "texts.en.out_of_hours", func(d *Department, v string) { d.Texts["en"] = Texts{OutOfHours: v} }},
		{"closure name", "holidays[0].name", func(d *Department, v string) { d.Holidays = []Closure{{Name: v, From: "2026-12-25"}} }},
		{"agent", "agents[0]", func(d *Department, v string) { d.Agents = []string{v} }},
		{"number", "routing.numbers[0]", func(d *Department, v string) { d.Routing.Numbers = []string{v} }},
		{"id", "id", func(d *Department, v string) { d.ID = v }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, h := range hostile.OfClass(hostile.Control, hostile.InvalidUTF8, hostile.Huge) {
				d := base()
				tt.mutate(&d, h.Value)
				err := d.Validate()
				var ve *ValidationError
				if !errors.As(err, &ve) || !slices.ContainsFunc(ve.Problems, func(p string) bool { return strings.HasPrefix(p, tt.field+":") }) {
					t.Errorf("%s = %s: Validate = %.200v, want a problem of %s", tt.name, h.Name, err, tt.field)
				}
			}
		})
	}
	for _, id := range []string{"../../etc/passwd", "a/b", "ann smith", strings.Repeat("a", 300)} {
		d := base()
		d.Agents = []string{id}
		if err := d.Validate(); err == nil {
			t.Errorf("agent %q accepted", id[:min(len(id), 20)])
		}
	}
	d := base()
	d.Texts["en"] = Texts{OutOfHours: "Closed.\nBack at nine.\tThanks"}
	if err := d.Validate(); err != nil {
		t.Fatalf("line breaks and tabs are text: %v", err)
	}
}

func TestR38_PresenceInputIsAnAgentID(t *testing.T) {
	t.Parallel()
	for _, h := range hostile.Strings() {
		if err := checkPresence(h.Value, PresenceOnline); !errors.Is(err, ErrInvalidPresence) {
			t.Errorf("agent %s: checkPresence = %v, want ErrInvalidPresence", h.Name, err)
		}
	}
	if err := checkPresence("ann", PresenceOnline); err != nil {
		t.Fatal(err)
	}
	if err := checkPresence("ann", "busy\x00"); !errors.Is(err, ErrInvalidPresence) {
		t.Fatalf("status: %v", err)
	}
}
