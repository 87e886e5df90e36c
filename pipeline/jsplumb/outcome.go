package jsplumb

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A handler settles nothing itself: it returns nil (ack) or an error, and
// the error's kind tells Pull what to do with the message. Plain errors are
// retries after the consumer's retry delay (WithRetryDelay), so forgetting
// to classify an error never loses a message.

// retryError asks for a redelivery after delay.
type retryError struct {
	err   error
	delay time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// termError asks the server never to deliver the message again.
type termError struct{ err error }

func (e *termError) Error() string { return e.err.Error() }
func (e *termError) Unwrap() error { return e.err }

// deadLetterError asks for the message to be dead-lettered.
type deadLetterError struct{ err error }

func (e *deadLetterError) Error() string { return e.err.Error() }
func (e *deadLetterError) Unwrap() error { return e.err }

// Retry is the outcome "try again after delay" (NakWithDelay; 0 is a plain Nak).
func Retry(err error, delay time.Duration) error {
	if err == nil {
		err = errors.New("retry requested")
	}
	return &retryError{err: err, delay: delay}
}

// Term is the outcome "never deliver this again" without a dead letter
// (TermWithReason, so the server's MSG_TERMINATED advisory says why).
func Term(err error) error {
	if err == nil {
		err = errors.New("terminated")
	}
	return &termError{err: err}
}

// DeadLetter is the outcome "this can never succeed", for the reason
// cause.Error(): Pull hands the message and cause to the consumer's
// dead-letter function (WithDeadLetter), which stores it where a person can
// look and terminates it. The cause may carry what that function needs
// (errors.As), such as the record to mark.
func DeadLetter(cause error) error {
	if cause == nil {
		cause = errors.New("dead-lettered")
	}
	return &deadLetterError{err: cause}
}

// Delivered is how many times the server has delivered msg (1 the first
// time, and 1 when the metadata is unreadable, which only a non-JetStream
// message has).
func Delivered(msg jetstream.Msg) uint64 {
	if md, err := msg.Metadata(); err == nil && md != nil {
		return md.NumDelivered
	}
	return 1
}
