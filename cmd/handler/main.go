// Command handler is the whole backend in one binary:
//
//	handler [serve]            the HTTP API and the trigger endpoints: in
//	                           Functions mode when the host sets
//	                           FUNCTIONS_CUSTOMHANDLER_PORT, standalone otherwise
//	handler bootstrap-admin    invite the first administrator
//	handler sweep              run one lifecycle sweep (optionally as of a time, dry)
//	handler audit verify       check every audit chain; exit non-zero if one is broken
//	handler privacy record     print the record of processing (GDPR Art. 30)
//	handler privacy promises   list P1–P14 with the tests that prove them
//
// Configuration comes from the environment only; see
// local.settings.example.json.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run is the program: main only wires it to the process. Tests call it
// with their own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	command := "serve"
	if len(args) > 1 {
		command, args = args[1], args[2:]
	} else {
		args = nil
	}
	switch command {
	case "serve":
		return serve(ctx, getenv, stdout)
	case "bootstrap-admin":
		return bootstrapAdmin(ctx, args, getenv, stdout, stderr)
	case "sweep":
		return sweepCommand(ctx, args, getenv, stdout, stderr)
	case "audit":
		return auditCommand(ctx, args, getenv, stdout, stderr, outsideParts{})
	case "privacy":
		return privacyCommand(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", command, usage)
	}
}

const usage = `usage:
  handler [serve]
  handler bootstrap-admin -email <address> [-first <name>] [-last <name>] [-locale fi|sv|en]
  handler sweep [-now <RFC 3339 time>] [-dry-run]
  handler audit verify [-legacy-until <YYYY-MM>]
  handler privacy record [-lang fi|sv|en|all] [-format md|json]
  handler privacy promises`
