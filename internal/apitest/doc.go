// Package apitest is what the fakes of the REST APIs (massivetest,
// finnhubtest) share: captured bodies embedded in their testdata/, and the
// Fake: the server, where a request carries its key and the API's answers
// to a missing or wrong key and to throttling, the log of the calls it
// received (never the key), and one lock for the fake's state. What each
// API answers to a call it serves stays in its fake.
package apitest
