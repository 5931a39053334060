package cloudapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/chatgate/chatgate/templates"
)

// MetaTemplate is a message template as the Graph API lists it
// (GET /{waba-id}/message_templates).
type MetaTemplate struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Category        string          `json:"category"` // MARKETING, UTILITY, AUTHENTICATION
	Status          string          `json:"status"`   // APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …
	RejectedReason  string          `json:"rejected_reason"`
	ParameterFormat string          `json:"parameter_format"` // POSITIONAL or NAMED
	Components      []MetaComponent `json:"components"`
	// WABAID is the account it was listed from (not part of Meta's answer).
	WABAID string `json:"-"`
}

// MetaComponent is one component of a MetaTemplate.
type MetaComponent struct {
	Type    string       `json:"type"`   // HEADER, BODY, FOOTER, BUTTONS
	Format  string       `json:"format"` // HEADER: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION
	Text    string       `json:"text"`
	Buttons []MetaButton `json:"buttons"`
}

// MetaButton is one button of a BUTTONS component.
type MetaButton struct {
	Type string `json:"type"` // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW, …
	Text string `json:"text"`
	URL  string `json:"url"`
}

// templateFields are the fields chatgate asks the listing for.
const templateFields = "id,name,language,category,status,rejected_reason,parameter_format,components"

// templatePageSize is the listing's page size.
const templatePageSize = 100

// maxTemplatePages bounds a listing: 1,000 pages of 100 is far more than the
// 6,000 templates Meta allows a WABA, so a server that pages forever ends.
const maxTemplatePages = 1000

// ListTemplates returns every message template of the WABA wabaID, all
// pages. It follows the "after" cursor against the configured base URL,
// never the "next" URL Meta returns, so the token goes to no other host.
func (c *Client) ListTemplates(ctx context.Context, wabaID string) ([]MetaTemplate, error) {
	if !isGraphID(wabaID) {
		return nil, fmt.Errorf("list templates: WABA id %q is not a Graph API id", clip(wabaID, 64))
	}
	var out []MetaTemplate
	q := url.Values{"fields": {templateFields}, "limit": {strconv.Itoa(templatePageSize)}}
	for page := 0; ; page++ {
		if page == maxTemplatePages {
			return nil, fmt.Errorf("list templates of WABA %s: more than %d pages", wabaID, maxTemplatePages)
		}
		var ans struct {
			Data   []MetaTemplate `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.call(ctx, http.MethodGet, "/"+wabaID+"/message_templates", q, nil, "", &ans); err != nil {
			return nil, fmt.Errorf("list templates of WABA %s: %w", wabaID, err)
		}
		for _, t := range ans.Data {
			t.WABAID = wabaID
			out = append(out, t)
		}
		after := ans.Paging.Cursors.After
		if ans.Paging.Next == "" || after == "" || after == q.Get("after") {
			return out, nil
		}
		q.Set("after", after)
	}
}

// Converted is a Meta template in chatgate's model.
type Converted struct {
	// Template is the template, normalised, with its mapped Status; valid
	// unless Problem is set.
	Template templates.Template
	// Notes say what of Meta's template chatgate's model does not keep
	// (a media header, URL buttons): the template is still usable.
	Notes []string
	// Problem is why the template cannot be represented at all; it is then
	// left out of a sync.
	Problem string
}

// ConvertTemplate is the pure conversion of a Meta template to chatgate's
// model: name, language (canonical), category, header text, body with its
// numbered or named variables, footer, quick-reply buttons, the mapped
// status and the WhatsApp reference. Fields only chatgate knows (the
// channel scope, the Twilio reference) come from current, the stored copy,
// when there is one; a new template is scoped to WhatsApp.
func ConvertTemplate(mt MetaTemplate, current *templates.Template) Converted {
	var c Converted
	t := &c.Template
	t.Name = mt.Name
	t.Language = mt.Language
	t.Category = templates.Category(strings.ToLower(mt.Category))
	t.Channel = templates.ScopeWhatsApp
	if current != nil {
		t.Channel, t.Twilio, t.WhatsApp = current.Channel, current.Twilio, current.WhatsApp
	}
	// Sync matches by name, so the WhatsApp name is the template's own
	// (kept when spelled out, dropped when it pointed elsewhere).
	if t.WhatsApp.Name != mt.Name {
		t.WhatsApp.Name = ""
	}
	status, ok := MapMetaStatus(mt.Status)
	if !ok {
		c.Problem = fmt.Sprintf("Meta status %q is not one chatgate maps", clip(mt.Status, 32))
		return c
	}
	t.Status = status
	for _, comp := range mt.Components {
		switch strings.ToUpper(comp.Type) {
		case "HEADER":
			switch f := strings.ToUpper(comp.Format); f {
			case "", "TEXT":
				if strings.Contains(comp.Text, "{{") {
					c.Problem = "its text header has a variable, which chatgate's templates do not support"
					return c
				}
				t.Header = comp.Text
			default:
				c.Notes = append(c.Notes, fmt.Sprintf("%s header: send the template with one %s attachment, which becomes the header", strings.ToLower(f), strings.ToLower(f)))
			}
		case "BODY":
			t.Body = comp.Text
		case "FOOTER":
			t.Footer = comp.Text
		case "BUTTONS":
			for _, b := range comp.Buttons {
				switch strings.ToUpper(b.Type) {
				case "QUICK_REPLY":
					t.Buttons = append(t.Buttons, templates.QuickReply{Text: b.Text})
				default:
					c.Notes = append(c.Notes, fmt.Sprintf("%s button %q is not kept; if it takes a parameter, chatgate cannot send the template", strings.ToLower(b.Type), clip(b.Text, 32)))
				}
			}
		case "CAROUSEL", "LIMITED_TIME_OFFER":
			c.Problem = fmt.Sprintf("%s templates are not supported", strings.ToLower(comp.Type))
			return c
		}
	}
	if mt.RejectedReason != "" && mt.RejectedReason != "NONE" {
		c.Notes = append(c.Notes, "rejected by Meta: "+strings.ToLower(mt.RejectedReason))
	}
	t.Normalize()
	if err := t.Validate(); err != nil {
		c.Problem = err.Error()
	}
	return c
}
