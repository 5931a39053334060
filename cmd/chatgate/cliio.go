package main

import (
	"fmt"
	"io"
	"os"
)

// writeExport writes an export to stdout, or to the file out ("" or "-":
// stdout).
func writeExport(stdout io.Writer, out string, data []byte, what string) error {
	if out == "" || out == "-" {
		_, err := stdout.Write(data)
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return fmt.Errorf("export %s: %w", what, err)
	}
	return nil
}

// readInput reads the file an apply command names ("-": stdin).
func readInput(stdin io.Reader, file, what string) ([]byte, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s file: %w", what, err)
	}
	return data, nil
}
