package cloudapi

import "encoding/json"

// The JSON of Meta's webhooks, as far as chatgate reads it. Meta adds
// fields without notice, so fields not named here are ignored (unlike
// chatgate's own API, which refuses unknown fields); every field that is
// read is checked.

type webhookBody struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"` // the WABA id
	Changes []change `json:"changes"`
}

type change struct {
	Field string       `json:"field"`
	Value *changeValue `json:"value"`
}

// changeValue is the value of a change, whatever its field: the fields of
// a messages value and those of a template status update do not overlap,
// so one decoding pass reads either (a webhook is decoded once).
type changeValue struct {
	messagesValue
	templateStatusValue
}

// messagesValue is the value of a "messages" change.
type messagesValue struct {
	MessagingProduct string       `json:"messaging_product"`
	Metadata         metadata     `json:"metadata"`
	Contacts         []waContact  `json:"contacts"`
	Messages         []waMessage  `json:"messages"`
	Statuses         []waStatus   `json:"statuses"`
	Errors           []graphIssue `json:"errors"`
}

type metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type waContact struct {
	WaID         string `json:"wa_id"`
	UserID       string `json:"user_id"`
	ParentUserID string `json:"parent_user_id"`
	Profile      struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"profile"`
}

type waMessage struct {
	From             string       `json:"from"`
	FromUserID       string       `json:"from_user_id"`
	FromParentUserID string       `json:"from_parent_user_id"`
	ID               string       `json:"id"`
	Timestamp        string       `json:"timestamp"`
	Type             string       `json:"type"`
	GroupID          string       `json:"group_id"`
	Context          *msgContext  `json:"context"`
	Text             *waText      `json:"text"`
	Image            *waMedia     `json:"image"`
	Video            *waMedia     `json:"video"`
	Audio            *waMedia     `json:"audio"`
	Voice            *waMedia     `json:"voice"`
	Document         *waMedia     `json:"document"`
	Sticker          *waMedia     `json:"sticker"`
	Location         *waLocation  `json:"location"`
	Contacts         []sharedCard `json:"contacts"`
	Reaction         *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	Interactive *struct {
		Type        string    `json:"type"`
		ButtonReply *replyRef `json:"button_reply"`
		ListReply   *replyRef `json:"list_reply"`
		NFMReply    *struct {
			Name         string `json:"name"`
			Body         string `json:"body"`
			ResponseJSON string `json:"response_json"`
		} `json:"nfm_reply"`
	} `json:"interactive"`
	Referral *waReferral  `json:"referral"`
	Errors   []graphIssue `json:"errors"`
}

type waText struct {
	Body string `json:"body"`
}

type msgContext struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Forwarded bool   `json:"forwarded"`
}

type waMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	Voice    bool   `json:"voice"`
}

type waLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name"`
	Address   string  `json:"address"`
	URL       string  `json:"url"`
}

type replyRef struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type waReferral struct {
	SourceURL  string `json:"source_url"`
	SourceID   string `json:"source_id"`
	SourceType string `json:"source_type"`
	Headline   string `json:"headline"`
	Body       string `json:"body"`
	MediaType  string `json:"media_type"`
	ImageURL   string `json:"image_url"`
	VideoURL   string `json:"video_url"`
	CTWAClid   string `json:"ctwa_clid"`
}

// sharedCard is one contact card of a "contacts" message.
type sharedCard struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name"`
		LastName      string `json:"last_name"`
		MiddleName    string `json:"middle_name"`
		Prefix        string `json:"prefix"`
		Suffix        string `json:"suffix"`
	} `json:"name"`
	Phones []struct {
		Phone string `json:"phone"`
		Type  string `json:"type"`
		WaID  string `json:"wa_id"`
	} `json:"phones"`
	Emails []struct {
		Email string `json:"email"`
		Type  string `json:"type"`
	} `json:"emails"`
	Org *struct {
		Company    string `json:"company"`
		Department string `json:"department"`
		Title      string `json:"title"`
	} `json:"org"`
	URLs []struct {
		URL  string `json:"url"`
		Type string `json:"type"`
	} `json:"urls"`
	Addresses []struct {
		Street      string `json:"street"`
		City        string `json:"city"`
		State       string `json:"state"`
		Zip         string `json:"zip"`
		Country     string `json:"country"`
		CountryCode string `json:"country_code"`
		Type        string `json:"type"`
	} `json:"addresses"`
	Birthday string `json:"birthday"`
}

type waStatus struct {
	ID                    string        `json:"id"`
	Status                string        `json:"status"`
	Timestamp             string        `json:"timestamp"`
	RecipientID           string        `json:"recipient_id"`
	RecipientUserID       string        `json:"recipient_user_id"`
	BizOpaqueCallbackData string        `json:"biz_opaque_callback_data"`
	Conversation          *conversation `json:"conversation"`
	Pricing               *pricing      `json:"pricing"`
	Errors                []graphIssue  `json:"errors"`
}

type conversation struct {
	ID                  string          `json:"id"`
	ExpirationTimestamp json.RawMessage `json:"expiration_timestamp"` // a number or a string
	Origin              struct {
		Type string `json:"type"`
	} `json:"origin"`
}

type pricing struct {
	Billable     *bool  `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
	Type         string `json:"type"`
}

// graphIssue is an error object of a webhook (a message, a status or the
// whole change).
type graphIssue struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
	Details string `json:"details"` // older payloads put it here
}

// templateStatusValue is the value of a "message_template_status_update" change.
type templateStatusValue struct {
	Event                   string          `json:"event"`
	MessageTemplateID       json.RawMessage `json:"message_template_id"` // a number or a string
	MessageTemplateName     string          `json:"message_template_name"`
	MessageTemplateLanguage string          `json:"message_template_language"`
	Reason                  string          `json:"reason"`
	OtherInfo               *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"other_info"`
}
