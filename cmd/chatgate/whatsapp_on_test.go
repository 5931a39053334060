//go:build !nowhatsapp

package main

import (
	"strings"
	"testing"
	"time"
)

func TestWhatsAppSettings(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.DataDir = "/data"
	cfg.lookupEnv = env(map[string]string{"CHATGATE_WHATSAPP_RATE": "0.5", "CHATGATE_WHATSAPP_RECIPIENT_GAP": "3s", "CHATGATE_WHATSAPP_GROUPS": "true"})
	wc, err := whatsAppSettings(cfg)
	if err != nil || wc.rate != 0.5 || wc.recipientGap != 3*time.Second || !wc.groups || wc.mediaDir != "/data/media" {
		t.Fatalf("settings %+v, %v", wc, err)
	}
	cfg.lookupEnv = env(map[string]string{"CHATGATE_WHATSAPP_RATE": "fast", "CHATGATE_WHATSAPP_RECIPIENT_GAP": "soon", "CHATGATE_WHATSAPP_GROUPS": "maybe"})
	_, err = whatsAppSettings(cfg)
	for _, name := range []string{"CHATGATE_WHATSAPP_RATE", "CHATGATE_WHATSAPP_RECIPIENT_GAP", "CHATGATE_WHATSAPP_GROUPS"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}
