// Package function is the function: Handle answers every request made to it.
package function

import (
	"fmt"
	"io"
	"net/http"
)

// Handle is an ordinary net/http handler: read the request, write the answer. The standard
// library is all there is (the build is offline); a panic answers 500 with its text.
func Handle(w http.ResponseWriter, r *http.Request) {
	var said []byte
	if r.Body != nil {
		defer r.Body.Close()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		said = body
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "Hello from go! You said: %s", said)
}
