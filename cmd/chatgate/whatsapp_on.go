//go:build !nowhatsapp

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/chatgate/chatgate/channels/whatsapp"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/sender"
)

// whatsAppBuilt says this binary has the WhatsApp channel.
const whatsAppBuilt = true

// whatsAppRole returns the run function of the whatsapp role: the device's
// intake, and the WhatsApp outbound sender while this process holds the
// device's lease (only the replica with the socket can send). Settings:
//
//	CHATGATE_WHATSAPP_DEVICE     JID or +E164 of the device to serve (default: the only paired one)
//	CHATGATE_WHATSAPP_NAME       device label in metrics and state events (default "default")
//	CHATGATE_WHATSAPP_MEDIA_DIR  where inbound media is stored (default DATA_DIR/media)
//	CHATGATE_WHATSAPP_GROUPS     "true" admits group messages (default off)
func whatsAppRole(a *app) (func(ctx context.Context) error, error) {
	if slices.Contains(a.twilio.Channels(), gateway.ChannelWhatsApp) {
		// One WhatsApp provider per deployment: two senders would both
		// claim the same outbound records.
		a.log.Warn("whatsapp role idle: WhatsApp is sent through Twilio (CHATGATE_TWILIO_NUMBERS has whatsapp: senders)")
		return func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
	}
	wc, err := whatsAppSettings(a.cfg)
	if err != nil {
		return nil, err
	}
	svc, err := whatsapp.NewService(whatsapp.Config{
		DatabaseURL:  a.dbURL,
		Device:       wc.device,
		Name:         wc.name,
		Publisher:    a.producer,
		Topics:       a.topics,
		MediaDir:     wc.mediaDir,
		Groups:       wc.groups,
		DeviceRate:   rate.Limit(wc.rate),
		RecipientGap: wc.recipientGap,
		Logger:       a.log,
		Serve: func(ctx context.Context, p *whatsapp.Provider) error {
			runner, err := sender.New(sender.Config{
				Provider: p, Log: postgres.NewSendLog(a.pool), Publisher: a.producer,
				Topics: a.topics, Logger: a.log, Source: whatsapp.DefaultSource,
			})
			if err != nil {
				return err
			}
			consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{
				Brokers: a.brokers, GroupID: a.senderGroup(gateway.ChannelWhatsApp),
				Topics: []string{a.topics.Name(gateway.TopicOutbound)}, Logger: a.log,
			}, runner.HandleBatch)
			if err != nil {
				return err
			}
			defer consumer.Close()
			return consumer.Run(ctx)
		},
	})
	if err != nil {
		return nil, err
	}
	return svc.Run, nil
}

// newWhatsAppCmd is `chatgate whatsapp`: pair, devices, unlink.
func newWhatsAppCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whatsapp",
		Short: "Link, list and unlink WhatsApp devices (sessions kept in PostgreSQL)",
		Long: `Manage the WhatsApp devices chatgate serves. Device sessions are kept in PostgreSQL
(CHATGATE_DATABASE_URL, or the managed local database under CHATGATE_DATA_DIR).
See docs/whatsapp.md.`,
	}
	cmd.AddCommand(newWhatsAppPairCmd(stdout, stderr), newWhatsAppDevicesCmd(stdout, stderr), newWhatsAppUnlinkCmd(stdout, stderr))
	return cmd
}

// openWhatsAppStore opens the device store on the configured database, the
// managed one a running chatgate serves, or the managed one started for this
// command (see openDatabase).
func openWhatsAppStore(ctx context.Context, stderr io.Writer) (*whatsapp.Store, string, func(), error) {
	db, err := openDatabase(ctx, "", stderr)
	if err != nil {
		return nil, "", nil, err
	}
	st, err := whatsapp.OpenStore(ctx, db.url, db.log)
	if err != nil {
		db.close()
		return nil, "", nil, err
	}
	return st, db.url, func() { _ = st.Close(); db.close() }, nil
}

func newWhatsAppPairCmd(stdout, stderr io.Writer) *cobra.Command {
	var phone, qrPNG string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "pair [--phone +NUMBER] [--qr-png FILE]",
		Short: "Link a new WhatsApp device by QR code, or by pairing code with --phone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, _, closeStore, err := openWhatsAppStore(ctx, stderr)
			if err != nil {
				return err
			}
			defer closeStore()
			fmt.Fprintf(stdout, "Connecting to WhatsApp (gives up after %v)…\n", timeout)
			info, err := st.Pair(ctx, whatsapp.PairOptions{
				Phone:   phone,
				Timeout: timeout,
				OnQRCode: func(code string) {
					fmt.Fprintln(stdout, "\nScan this code with WhatsApp on the phone: Settings > Linked devices > Link a device.")
					if err := renderQR(stdout, code, qrPNG); err != nil {
						fmt.Fprintf(stderr, "chatgate: %v\n", err)
					}
				},
				OnPairingCode: func(code string) {
					fmt.Fprintf(stdout, "\nOn the phone: Settings > Linked devices > Link a device > Link with phone number instead,\nthen type this code: %s\n", code)
				},
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Linked %s (%s). Start the whatsapp role to serve it.\n", info.Phone, info.JID)
			return nil
		},
	}
	cmd.Flags().StringVar(&phone, "phone", "", "pair by code typed on this phone (E.164, e.g. +27821234567) instead of a QR code")
	cmd.Flags().StringVar(&qrPNG, "qr-png", "", "also write each QR code to this PNG file")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "give up after this long")
	return cmd
}

// renderQR shows code as a QR code in the terminal and, with pngPath, also
// writes it as a PNG file.
func renderQR(w io.Writer, code, pngPath string) error {
	q, err := qrcode.New(code, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("render QR code: %w", err)
	}
	fmt.Fprint(w, q.ToSmallString(false))
	if pngPath != "" {
		if err := q.WriteFile(320, pngPath); err != nil {
			return fmt.Errorf("write QR code PNG %s: %w", pngPath, err)
		}
		fmt.Fprintf(w, "QR code written to %s\n", pngPath)
	}
	return nil
}

func newWhatsAppDevicesCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "devices",
		Short: "List linked WhatsApp devices and whether a chatgate serves each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, url, closeStore, err := openWhatsAppStore(ctx, stderr)
			if err != nil {
				return err
			}
			defer closeStore()
			devs, err := st.Devices(ctx)
			if err != nil {
				return err
			}
			if len(devs) == 0 {
				fmt.Fprintln(stdout, "No linked devices. Link one with: chatgate whatsapp pair")
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PHONE\tJID\tNAME\tPLATFORM\tSERVED")
			for _, d := range devs {
				served := "no"
				if held, err := whatsapp.LeaseHeld(ctx, url, d.LeaseDevice()); err != nil {
					served = "unknown"
				} else if held {
					served = "yes (a chatgate holds its lease)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Phone, d.JID, d.PushName, d.Platform, served)
			}
			return tw.Flush()
		},
	}
}

func newWhatsAppUnlinkCmd(stdout, stderr io.Writer) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "unlink JID|+NUMBER",
		Short: "Log a linked device out of WhatsApp and delete its session",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, _, closeStore, err := openWhatsAppStore(ctx, stderr)
			if err != nil {
				return err
			}
			defer closeStore()
			info, err := st.Unlink(ctx, args[0], force)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Unlinked %s (%s).\n", info.Phone, info.JID)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete the local session even if WhatsApp cannot be reached")
	return cmd
}
