package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/redact"
)

func newCmd(n *NATS, q *questdb.Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "x",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return ApplyEnv(cmd) },
		RunE:              func(*cobra.Command, []string) error { return nil },
	}
	n.AddFlags(cmd.Flags())
	AddQuestDBFlags(cmd.Flags(), q)
	return cmd
}

func TestFlagBeatsEnvBeatsDefault(t *testing.T) {
	t.Setenv("FFF_NATS_URL", "nats://from-env:4222")
	t.Setenv("FFF_TABLE", "env_table")
	var n NATS
	var q questdb.Config
	cmd := newCmd(&n, &q)
	cmd.SetArgs([]string{"--table", "flag_table"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if n.URL != "nats://from-env:4222" {
		t.Errorf("env did not beat default: nats=%q", n.URL)
	}
	if q.Table != "flag_table" {
		t.Errorf("flag did not beat env: table=%q", q.Table)
	}
	if q.PG != questdb.DefaultPG {
		t.Errorf("default lost: pg=%q", q.PG)
	}
}

func TestBadEnvValueNamesVariable(t *testing.T) {
	t.Setenv("FFF_REPLICAS", "three")
	var n NATS
	var q questdb.Config
	cmd := newCmd(&n, &q)
	cmd.SetArgs(nil)
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "FFF_REPLICAS") {
		t.Fatalf("want an error naming FFF_REPLICAS, got %v", err)
	}
}

func TestHelpNamesEnv(t *testing.T) {
	var n NATS
	var q questdb.Config
	cmd := newCmd(&n, &q)
	if !strings.Contains(cmd.Flags().FlagUsages(), "[$FFF_QUESTDB_PG]") {
		t.Fatal("help does not name FFF_QUESTDB_PG")
	}
}

func TestRedactHidesSecrets(t *testing.T) {
	cases := map[string]string{
		"postgres://admin:quest@127.0.0.1:8812/qdb":        "quest",
		"nats://pipeline:s3cret@nats:4222":                 "s3cret",
		"https::addr=db:9000;username=a;password=hunter2;": "hunter2",
		"http::addr=db:9000;token=abcdefTOKEN;":            "abcdefTOKEN",
	}
	for in, secret := range cases {
		if out := redact.Text(in); strings.Contains(out, secret) {
			t.Errorf("Redact(%q) = %q still holds the secret", in, out)
		}
	}
}

func TestConnectErrorHasNoPassword(t *testing.T) {
	n := NATS{URL: "nats://127.0.0.1:1", User: "u", Password: "topsecretpw"}
	_, err := n.Connect("test", nil)
	if err == nil {
		t.Fatal("want an error for a closed port")
	}
	if strings.Contains(err.Error(), "topsecretpw") {
		t.Fatalf("error leaks the password: %v", err)
	}
	n.URL = "nats://u:topsecretpw@127.0.0.1:1"
	_, err = n.Connect("test", nil)
	if err == nil || strings.Contains(err.Error(), "topsecretpw") {
		t.Fatalf("error leaks the password from the URL: %v", err)
	}
	if errors.Unwrap(err) == nil {
		t.Fatal("error does not wrap its cause")
	}
}

func TestLoggerRejectsUnknownFormat(t *testing.T) {
	if _, err := (Log{Level: "info", Format: "xml"}).Logger(&bytes.Buffer{}); err == nil {
		t.Fatal("want an error for --log-format xml")
	}
	if _, err := (Log{Level: "loud", Format: "text"}).Logger(&bytes.Buffer{}); err == nil {
		t.Fatal("want an error for --log-level loud")
	}
	var b bytes.Buffer
	l, err := (Log{Level: "debug", Format: "json"}).Logger(&b)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hello", "k", 1)
	if !strings.Contains(b.String(), `"msg":"hello"`) {
		t.Fatalf("json log line not written: %q", b.String())
	}
}
