// Package apitest is what the fakes of the REST APIs (massivetest,
// finnhubtest) share: captured bodies embedded in their testdata/, the log
// of the calls they received (never the key), where a request carried its
// key, and the server's start and answer. What each API answers stays in
// its fake.
package apitest
