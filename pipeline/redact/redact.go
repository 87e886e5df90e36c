// Package redact keeps secrets out of logs and error texts: passwords inside
// URLs (nats://u:p@h, postgres://u:p@h) and ILP conf strings (password=…;
// token=…;), and any known secret an error from a client library echoes.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

var userinfoRe = regexp.MustCompile(`(//[^:/@]+:)[^@/]*@`)

var confSecretRe = regexp.MustCompile(`(password|token)=[^;]*;?`)

// Text hides the passwords and tokens in s.
func Text(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return userinfoRe.ReplaceAllString(s, "${1}REDACTED@")
		}
	}
	s = userinfoRe.ReplaceAllString(s, "${1}REDACTED@")
	return confSecretRe.ReplaceAllString(s, "${1}=REDACTED;")
}

type scrubbed struct {
	msg   string
	cause error
}

func (s scrubbed) Error() string { return s.msg }
func (s scrubbed) Unwrap() error { return s.cause }

// Error removes each secret from err's text while keeping err unwrappable.
func Error(err error, secrets ...string) error {
	for _, secret := range secrets {
		if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
			continue
		}
		err = scrubbed{msg: strings.ReplaceAll(err.Error(), secret, "REDACTED"), cause: err}
	}
	return err
}
