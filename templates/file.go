package templates

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// fileDocument is the YAML document of `chatgate templates apply` and
// `export` (docs/templates.md, "The YAML file").
type fileDocument struct {
	Templates []fileTemplate `json:"templates"`
}

// fileTemplate is one entry of the file: a Template without its version,
// which the store assigns. Status is optional: empty leaves it to the store.
type fileTemplate struct {
	Name     string       `json:"name"`
	Language string       `json:"language"`
	Category Category     `json:"category"`
	Channel  ChannelScope `json:"channel,omitempty"`
	Status   Status       `json:"status,omitempty"`
	Header   string       `json:"header,omitempty"`
	Body     string       `json:"body"`
	Footer   string       `json:"footer,omitempty"`
	Buttons  []QuickReply `json:"buttons,omitempty"`
	Twilio   TwilioRef    `json:"twilio,omitzero"`
	WhatsApp WhatsAppRef  `json:"whatsapp,omitzero"`
}

// ParseFile reads a templates YAML file. Unknown or repeated keys are
// refused, so that a misspelt field is not silently dropped. The templates
// are returned as written (not normalised, not validated; Apply does both),
// with Status empty where the file gives none and Version 0.
func ParseFile(data []byte) ([]Template, error) {
	var doc fileDocument
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("templates file: %w", err)
	}
	out := make([]Template, len(doc.Templates))
	for i, f := range doc.Templates {
		out[i] = Template{
			Name: f.Name, Language: f.Language, Category: f.Category, Channel: f.Channel, Status: f.Status,
			Header: f.Header, Body: f.Body, Footer: f.Footer, Buttons: f.Buttons, Twilio: f.Twilio, WhatsApp: f.WhatsApp,
		}
	}
	return out, nil
}

// MarshalFile writes ts as a templates YAML file that ParseFile reads back
// to the same templates (versions aside). Each entry is preceded by a
// comment naming it, because the fields of an entry come in alphabetical
// order.
func MarshalFile(ts []Template) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# chatgate message templates (docs/templates.md). Apply with: chatgate templates apply -f FILE\n")
	if len(ts) == 0 {
		b.WriteString("templates: []\n")
		return b.Bytes(), nil
	}
	b.WriteString("templates:\n")
	for _, t := range ts {
		entry, err := yaml.Marshal(fileTemplate{
			Name: t.Name, Language: t.Language, Category: t.Category, Channel: t.Channel, Status: t.Status,
			Header: t.Header, Body: t.Body, Footer: t.Footer, Buttons: t.Buttons, Twilio: t.Twilio, WhatsApp: t.WhatsApp,
		})
		if err != nil {
			return nil, fmt.Errorf("templates file: %s (%s): %w", t.Name, t.Language, err)
		}
		fmt.Fprintf(&b, "  # %s (%s)", t.Name, t.Language)
		if t.Version > 0 {
			fmt.Fprintf(&b, ", version %d when exported", t.Version)
		}
		b.WriteString("\n")
		// Indent the entry as a list item. Empty lines stay empty: inside a
		// block scalar they are blank lines of the text either way.
		for i, line := range strings.Split(strings.TrimSuffix(string(entry), "\n"), "\n") {
			switch {
			case i == 0:
				b.WriteString("  - " + line)
			case line == "":
			default:
				b.WriteString("    " + line)
			}
			b.WriteString("\n")
		}
	}
	return b.Bytes(), nil
}
