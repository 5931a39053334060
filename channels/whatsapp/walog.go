package whatsapp

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// slogLogger adapts slog to whatsmeow's logger. whatsmeow's info messages
// name JIDs (phone numbers), so they go to debug; warnings and errors keep
// their level.
type slogLogger struct{ log *slog.Logger }

var _ waLog.Logger = slogLogger{}

// WALogger returns a whatsmeow logger writing to log.
func WALogger(log *slog.Logger) waLog.Logger {
	if log == nil {
		return waLog.Noop
	}
	return slogLogger{log: log}
}

func (l slogLogger) Warnf(msg string, args ...any) {
	l.log.Log(context.Background(), slog.LevelWarn, fmt.Sprintf(msg, args...))
}

func (l slogLogger) Errorf(msg string, args ...any) {
	l.log.Log(context.Background(), slog.LevelError, fmt.Sprintf(msg, args...))
}

func (l slogLogger) Infof(msg string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Log(context.Background(), slog.LevelDebug, fmt.Sprintf(msg, args...))
	}
}

func (l slogLogger) Debugf(msg string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug-4) {
		l.log.Log(context.Background(), slog.LevelDebug-4, fmt.Sprintf(msg, args...))
	}
}

func (l slogLogger) Sub(module string) waLog.Logger {
	return slogLogger{log: l.log.With("whatsmeow", module)}
}
