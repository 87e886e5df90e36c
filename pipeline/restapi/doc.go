// Package restapi is the part every keyed JSON REST client of a price
// source shares (Massive, Finnhub): the key read from its environment
// variable, a checked base URL, a default HTTP client, one paced and
// retried GET that sends the key in a header (never in a URL, a log line
// or an error), and the shape of a refusal with the Retry-After it asked
// for. What each API answers, and what its errors say, stays in its own
// package.
package restapi
