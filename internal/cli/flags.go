// Package cli is the only code that knows flags and environment variables.
// It holds the configuration every binary shares (NATS, QuestDB, logging,
// metrics), the rule that binds each flag to an environment variable (a flag
// given on the command line beats its variable, which beats the default), and
// RunStage, which connects a stage and serves its metrics so that the stage
// packages under pipeline/ take a ready JetStream and never see a flag.
package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const envAnnotation = "fff_env"

// EnvPrefix starts every environment variable the pipeline reads.
const EnvPrefix = "FFF_"

// Bind attaches an environment variable to an already defined flag and
// mentions it in the flag's help.
func Bind(fs *pflag.FlagSet, flag, env string) {
	f := fs.Lookup(flag)
	if f == nil {
		panic("cli: no flag " + flag)
	}
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	f.Annotations[envAnnotation] = []string{env}
	f.Usage += " [$" + env + "]"
}

// Flag defines a flag with define (fs.StringVar, fs.DurationVar, …) and
// binds it to the environment variable env, as Bind does.
func Flag[T any](fs *pflag.FlagSet, define func(p *T, name string, value T, usage string), p *T, name string, value T, usage, env string) {
	define(p, name, value, usage)
	Bind(fs, name, env)
}

// EnvName is the environment variable bound to a flag, or "".
func EnvName(f *pflag.Flag) string {
	if v := f.Annotations[envAnnotation]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ApplyEnv sets every flag of cmd that was not given on the command line
// from its environment variable, if that is set. Call it from
// PersistentPreRunE.
func ApplyEnv(cmd *cobra.Command) error {
	var firstErr error
	apply := func(f *pflag.Flag) {
		env := EnvName(f)
		if env == "" || f.Changed || firstErr != nil {
			return
		}
		v, ok := os.LookupEnv(env)
		if !ok {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			// Slices from the environment are comma separated, replacing the default.
			if err := sv.Replace(splitList(v)); err != nil {
				firstErr = fmt.Errorf("environment %s: %w", env, err)
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			firstErr = fmt.Errorf("environment %s=%q: %w", env, redactIfSecret(f.Name, v), err)
		}
	}
	cmd.Flags().VisitAll(apply)
	cmd.InheritedFlags().VisitAll(apply)
	return firstErr
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func redactIfSecret(name, v string) string {
	if strings.Contains(name, "password") || strings.Contains(name, "nkey") || strings.Contains(name, "token") {
		return "REDACTED"
	}
	return v
}
