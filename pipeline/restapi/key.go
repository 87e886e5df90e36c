package restapi

import (
	"fmt"
	"os"
	"strings"
)

// KeyFromEnv reads an API key from the variable env; service and where
// (the page that issues keys) make the error say how to get one.
func KeyFromEnv(env, service, where string) (string, error) {
	k := strings.TrimSpace(os.Getenv(env))
	if k == "" {
		return "", fmt.Errorf("%s is not set: %s needs an API key (%s)", env, service, where)
	}
	return k, nil
}
