package templates_test

import (
	"encoding/json"
	"fmt"

	"github.com/chatgate/chatgate/templates"
)

func ExampleRender() {
	t := &templates.Template{
		Name:     "order_shipped",
		Language: "pt-br",
		Category: templates.CategoryUtility,
		Channel:  templates.ScopeWhatsApp,
		Header:   "Pedido enviado",
		Body:     "Olá {{first_name}}, o pedido {{order_id}} saiu para entrega.",
		Footer:   "Loja Exemplo",
		Status:   templates.StatusApproved,
		Version:  1,
	}
	r, err := templates.Render(t, map[string]string{"first_name": "Ana", "order_id": "{{1}}"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Text)
	fmt.Println("---")
	fmt.Println(r.Twilio.ContentVariables)
	wa, _ := json.Marshal(r.WhatsApp)
	fmt.Println(string(wa))

	_, err = templates.Render(t, map[string]string{"first_name": " ", "city": "Lisboa"})
	fmt.Println(err)
	// Output:
	// Pedido enviado
	//
	// Olá Ana, o pedido {{1}} saiu para entrega.
	//
	// Loja Exemplo
	// ---
	// {"first_name":"Ana","order_id":"{{1}}"}
	// {"name":"order_shipped","language":{"code":"pt_BR","policy":"deterministic"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Ana"},{"type":"text","parameter_name":"order_id","text":"{{1}}"}]}]}
	// render template order_shipped (pt-br): template variables: missing order_id; extra city; empty first_name
}
