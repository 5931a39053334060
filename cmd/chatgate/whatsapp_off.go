//go:build nowhatsapp

package main

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// whatsAppBuilt says this binary has the WhatsApp channel: without it the
// default roles leave whatsapp out.
const whatsAppBuilt = false

// errNoWhatsApp explains a binary built without the WhatsApp channel.
var errNoWhatsApp = errors.New("this chatgate binary was built without WhatsApp support (-tags nowhatsapp), " +
	"so it links neither whatsmeow nor the GPL-3.0 go.mau.fi/libsignal; use a default build for WhatsApp")

// newWhatsAppCmd is `chatgate whatsapp` in a binary without WhatsApp: every
// use explains why it is missing.
func newWhatsAppCmd(_, _ io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:                "whatsapp",
		Short:              "WhatsApp devices (not in this build)",
		Args:               cobra.ArbitraryArgs,
		DisableFlagParsing: true,
		RunE:               func(*cobra.Command, []string) error { return errNoWhatsApp },
	}
}

// whatsAppRole refuses the whatsapp role in a binary without WhatsApp.
func whatsAppRole(*app) (func(ctx context.Context) error, error) { return nil, errNoWhatsApp }
